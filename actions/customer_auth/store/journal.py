"""JSON-lines files of the TinyDB backend: the nonce journals and the audit trail, appended to (an
audit entry counted into has its fixed-width tail rewritten in place).

A line is appended with one `write` under `flock`, so readers holding the lock see whole lines. A
writer killed mid-write (or a full disk) can leave a torn last line, bytes without a final newline;
the next writer starts its line with a newline, so the torn bytes become one line of their own, and
lines that do not parse are skipped when reading.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .tinydb_files import KeptFile, replace_file

SWEEP_EVERY = 1024  # lines read or appended between two sweeps of the expired nonces held in memory
COMPACT_AFTER = 4096  # lines a journal holds before it may be compacted (when over half have expired)


class NonceJournal:
    """One shard of the nonces: lines {"k": "consumer_key:nonce", "t": timestamp}, appended once per
    use. Each process keeps the live ones (timestamp >= expire_before) in a dict and, under the lock,
    reads only the lines appended since its last look, then decides and appends.

    When the journal holds many more lines than live nonces, the writer holding the lock rewrites the
    live ones to a new file and renames it over the journal. Processes waiting for the lock hold the
    old file: `KeptFile.locked` notices the path now names another and locks that one instead."""

    def __init__(self, path: Path, sync: bool) -> None:
        self._file = KeptFile(path, append=True, sync=sync)
        self._read_through = 0  # the descriptor (`KeptFile.opened`) the state below was read through
        self._read_to = 0  # offset after the last whole line read
        self._lines = 0
        self._swept_at = 0
        self._live: dict[str, int] = {}

    def admit(self, key: str, timestamp: int, expire_before: int) -> bool:
        """True, and the use recorded, if `key` has no live use; False (nothing written) if it has."""
        with self._file.locked() as (fd, stat):
            self._catch_up(fd, stat, expire_before)
            used = self._live.get(key)
            if used is not None and used >= expire_before:
                return False
            self._append(fd, stat, [(key, timestamp)])
            self._live[key] = timestamp
            if self._lines - self._swept_at >= SWEEP_EVERY:
                self._sweep(expire_before)
            return True

    def add(self, uses: Iterable[tuple[str, int]]) -> None:
        """Uses recorded as they are, without a check (nonces moved from files of an earlier layout)."""
        uses = list(uses)
        with self._file.locked() as (fd, stat):
            self._catch_up(fd, stat, 0)
            self._append(fd, stat, uses)
            self._live.update(uses)

    def close(self) -> None:
        self._file.close()

    def _catch_up(self, fd: int, stat: os.stat_result, expire_before: int) -> None:
        """Reads the whole lines other processes appended since this one last looked."""
        if self._file.opened != self._read_through:  # first look, or compacted since: read it all
            # (an inode number says less: one freed by a compaction is soon another journal's)
            self._read_through, self._read_to, self._lines, self._swept_at = self._file.opened, 0, 0, 0
            self._live = {}
        if stat.st_size <= self._read_to:
            return
        data = os.pread(fd, stat.st_size - self._read_to, self._read_to)
        end = data.rfind(b"\n") + 1  # what follows the last newline is a torn line (we hold the lock)
        live = self._live
        for line in data[:end].splitlines():
            self._lines += 1
            try:
                entry = json.loads(line)
                key, timestamp = entry["k"], int(entry["t"])
            except (ValueError, KeyError, TypeError):
                continue
            if timestamp >= expire_before and timestamp > live.get(key, timestamp - 1):
                live[key] = timestamp
        self._read_to += end

    def _append(self, fd: int, stat: os.stat_result, uses: list[tuple[str, int]]) -> None:
        lines = b"".join(_line(key, timestamp) for key, timestamp in uses)
        # _catch_up read up to the last newline: anything past it is a torn line, known without a read
        data = self._file.append_lines(fd, stat, lines, torn=stat.st_size > self._read_to)
        self._read_to = stat.st_size + len(data)
        self._lines += len(uses) + data.startswith(b"\n")

    def _sweep(self, expire_before: int) -> None:
        """Drops expired nonces from memory; compacts the journal when over half its lines have expired."""
        self._live = {key: timestamp for key, timestamp in self._live.items() if timestamp >= expire_before}
        self._swept_at = self._lines
        if self._lines > COMPACT_AFTER and 2 * len(self._live) < self._lines:
            replace_file(self._file.path, b"".join(_line(key, timestamp) for key, timestamp in self._live.items()))
            # Still holding the lock on the old file; the next look (ours too) finds the new one.


def _line(key: str, timestamp: int) -> bytes:
    return b'{"k":%s,"t":%d}\n' % (json.dumps(key).encode("ascii"), timestamp)


class AuditJournal:
    """The audit trail: one line per entry, newest last; fsynced only when `sync`.

    An entry counted into (one with a `window`, see `Store.append_audit`) ends in a tail of fixed
    width, `,"last_at":"...","count":         N}`, rewritten in place by one `pwrite` under the lock.
    Its line is looked for among the last WINDOW_SCAN_BYTES of the file, once per process and
    window (then its offset is kept); past that, a new entry for the window starts."""

    def __init__(self, path: Path, sync: bool) -> None:
        self.path = path
        self._file = KeptFile(path, sync=sync)  # not O_APPEND: a counted entry's tail is rewritten in place
        self._windows: dict[str, tuple[int, int]] = {}  # window -> (descriptor it was seen through, tail offset)

    def append(self, entry: dict[str, Any]) -> None:
        window = entry.get("window")
        with self._file.locked() as (fd, stat):
            if window:
                tail = self._tail_of(window, fd, stat.st_size)
                if tail is not None:
                    self._file.write(fd, _tail(entry["at"], _count(os.pread(fd, TAIL_BYTES, tail)) + 1), tail)
                    return
            fields = {k: v for k, v in entry.items() if k not in ("last_at", "count")}
            line = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            if window:
                line = line[:-1] + _tail(entry["at"], 1)
            data = self._file.append_lines(fd, stat, line + b"\n")
            if window:
                self._windows[window] = (self._file.opened, stat.st_size + len(data) - 1 - TAIL_BYTES)

    def newest(self, limit: int, integration_id: int | None) -> list[dict[str, Any]]:
        """Read without the lock: a tail rewritten meanwhile keeps its width and stays JSON."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if integration_id is None or entry.get("integration_id") == integration_id:
                fields = {k: v for k, v in entry.items() if k not in ("window", "count", "last_at")}
                entries.append({**fields, "count": entry.get("count", 1), "last_at": entry.get("last_at")})
                if len(entries) >= limit:
                    break
        return entries

    def close(self) -> None:
        self._file.close()

    def _tail_of(self, window: str, fd: int, size: int) -> int | None:
        """The offset of the tail of `window`'s entry, or None when there is none to count into."""
        seen, tail = self._windows.get(window, (0, 0))
        if seen == self._file.opened and _count(os.pread(fd, TAIL_BYTES, tail)) > 0:
            return tail
        start = max(0, size - WINDOW_SCAN_BYTES)
        data = os.pread(fd, size - start, start)
        end = len(data)
        while end > 0:  # newest line first
            begin = data.rfind(b"\n", 0, end - 1) + 1
            line = data[begin:end].rstrip(b"\n")
            if b'"window":' in line and _count(line[-TAIL_BYTES:]) > 0:
                try:
                    found = json.loads(line).get("window") == window
                except ValueError:  # a torn line, or the first one read, cut at the scan's start
                    found = False
                if found:
                    tail = start + begin + len(line) - TAIL_BYTES
                    self._windows[window] = (self._file.opened, tail)
                    return tail
            end = begin
        return None


WINDOW_SCAN_BYTES = 1024 * 1024
_TAIL_FORMAT = ',"last_at":"%s","count":%10d}'
TAIL_BYTES = len(_TAIL_FORMAT % ("0000-00-00 00:00:00", 0))
_TAIL = re.compile(rb',"last_at":"[0-9: -]{19}","count": *([0-9]+)\}')


def _tail(at: str, count: int) -> bytes:
    return (_TAIL_FORMAT % (at, count)).encode("ascii")


def _count(tail: bytes) -> int:
    """The count a counted entry's tail holds; 0 for bytes that are no such tail."""
    match = _TAIL.fullmatch(tail)
    return int(match.group(1)) if match else 0
