"""The TinyDB backend's files: whole JSON files replaced atomically, and small files kept open and
changed in place under `flock` (see tinydb_store.py for the layout and what each file holds).

The files kept open need a POSIX system (`flock`, `pread`, `pwrite`).
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

try:
    import fcntl
except ImportError:  # not POSIX: filelock's polling lock for the whole-file databases (KeptFile needs fcntl)
    fcntl = None  # type: ignore[assignment]
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from ..customers import Customer
from ..integrations import Integration
from .base import StoreError


class AtomicJSONStorage(Storage):
    """TinyDB storage writing whole files atomically, re-reading only what changed on disk."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._data: dict[str, Any] | None = None
        self._signature: tuple[int, int, int] | None = None
        self._in_transaction = False
        self._pinned = False
        self._dirty = False
        self.generation = 0  # bumped whenever the data may have changed

    def read(self) -> dict[str, Any] | None:
        if not (self._in_transaction or self._pinned):
            self._load(force=False)
        return self._data

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One look at the file for a whole lookup: the index and the document come from one version."""
        if not self._in_transaction:  # inside a transaction the data in memory is the truth
            self._load(force=False)
        self._pinned = True
        try:
            yield
        finally:
            self._pinned = False

    def write(self, data: dict[str, Any]) -> None:
        if not self._in_transaction:
            raise RuntimeError("TinyDB writes must happen inside a store transaction")
        self._data = data
        self._dirty = True
        self.generation += 1

    def close(self) -> None:
        pass

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Fresh read, then one atomic write of everything changed; the caller holds the file lock."""
        self._load(force=True)
        self._in_transaction, self._dirty = True, False
        try:
            yield
            if self._dirty:
                self._write_file(self._data or {})
        except BaseException:
            self._signature = None  # what is in memory may be half-applied: re-read next time
            raise
        finally:
            self._in_transaction = False

    def _load(self, force: bool) -> None:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if not force and signature == self._signature:
                    return
                raw = handle.read()
        except FileNotFoundError:
            if self._data is not None or self._signature is not None:
                self.generation += 1
            self._data, self._signature = None, None
            return
        self._data = parse_store_file(self.path, raw)
        self._signature = signature
        self.generation += 1

    def _write_file(self, data: dict[str, Any]) -> None:
        # json.dumps, not json.dump: only dumps uses the C encoder (dump to a file is pure Python)
        replace_file(self.path, json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        stat = os.stat(self.path)
        self._signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def parse_store_file(path: Path, raw: bytes) -> dict[str, Any] | None:
    """A store file's content (None when it is empty); one that does not parse is a StoreError naming it."""
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise StoreError(f"the store file {path} is not valid JSON: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise StoreError(f"the store file {path} is not a store: it holds a JSON {type(data).__name__}, not an object")
    return data


def read_table(path: Path, table: str) -> dict[str, Any] | None:
    """The documents of `table` in the store file at `path`, read without its lock (None: no file)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return (parse_store_file(path, raw) or {}).get(table) or {}


def replace_file(path: Path, content: bytes) -> None:
    """`path` now holds `content`, or (after a crash) what it held before: a temporary file, fsynced,
    renamed over it, then the directory fsynced so that the rename is durable too."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _BlockingFileLock:
    """A cross-process exclusive lock on `path` (flock). A waiter sleeps in the kernel and wakes as
    soon as the holder releases, where filelock's FileLock polls every 50 ms. The lock file is opened
    on each acquire, so a forked child never shares its parent's lock. The holder's death releases it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0  # re-entered by the thread holding it (callers hold a per-object RLock)

    def __enter__(self) -> None:
        self._depth += 1
        if self._depth > 1:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            self._depth -= 1
            raise
        self._fd = fd

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def file_lock(path: str) -> Any:
    """Used under a per-object threading lock, so one holder per process at a time."""
    if fcntl is not None:
        return _BlockingFileLock(path)
    from filelock import FileLock  # imported only where it is used: about 10 ms of every action's cold start

    return FileLock(path, thread_local=False)


class Database:
    """One TinyDB file with its lock: `read()` for lookups, `write()` for a transaction, `locked()`
    to hold the lock across several transactions (of this file and others)."""

    def __init__(self, path: Path) -> None:
        self._db = TinyDB(str(path), storage=AtomicJSONStorage)
        self.storage: AtomicJSONStorage = self._db.storage  # type: ignore[assignment]
        self._file_lock = file_lock(f"{path}.lock")
        self._mutex = threading.RLock()

    def table(self, name: str) -> Table:
        # No query cache: another process may have changed the file since the last query.
        table = self._db.table(name, cache_size=0)
        table._next_id = None  # recomputed from the data, never from a stale in-memory counter
        return table

    @contextmanager
    def read(self) -> Iterator[Database]:
        with self._mutex, self.storage.snapshot():
            yield self

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._mutex, self._file_lock:
            yield

    @contextmanager
    def write(self) -> Iterator[Database]:
        with self.locked(), self.storage.transaction():
            yield self


K, V = TypeVar("K"), TypeVar("V")


class OnFirstUse(Generic[K, V]):
    """Objects made by `make(key)` on their key's first use, once (thread-safe): the journals,
    bucket files and customer files a process opens as requests need them."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._made: dict[K, V] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: K) -> V:
        made = self._made.get(key)
        if made is None:
            with self._lock:
                made = self._made.get(key)
                if made is None:
                    made = self._made[key] = self._make(key)
        return made

    def values(self) -> list[V]:
        with self._lock:
            return list(self._made.values())


class KeptFile:
    """A small file kept open for the life of the process and changed in place under `flock` on that
    descriptor: no lock file to open, no temporary file, no rename. A thread mutex is held as well
    (threads share the descriptor, and flock does not tell them apart); a descriptor inherited through
    a fork is replaced by one of the child's own, and so is one whose file the path no longer names
    (a journal's compaction replaces it). The holder's death releases the lock."""

    def __init__(self, path: Path, append: bool = False, sync: bool = False) -> None:
        self.path = path
        self._sync = sync  # fsync after every write
        self._append = append  # O_APPEND: every write appends, even a pwrite at an offset (Linux)
        self._flags = os.O_RDWR | os.O_CREAT | (os.O_APPEND if append else 0)
        self._fd: int | None = None
        self._pid = 0
        self._mutex = threading.Lock()
        self.opened = 0  # descriptors opened so far: what was read through an earlier one may be stale

    @contextmanager
    def locked(self) -> Iterator[tuple[int, os.stat_result]]:
        """(descriptor, its fstat) under the lock, on the file the path names now."""
        with self._mutex:
            while True:
                fd = self._descriptor()
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    stat = os.fstat(fd)
                    if _same_file(stat, self.path):
                        yield fd, stat
                        return
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                self._close()  # replaced while we waited: lock the file the path names now

    def write(self, fd: int, data: bytes, offset: int | None = None) -> None:
        """One write (at `offset`, else appended), fsynced if the file was opened `sync`; a short one
        (a full disk) is an error."""
        written = os.write(fd, data) if offset is None else os.pwrite(fd, data, offset)
        if written != len(data):
            raise StoreError(f"could not write to {self.path} ({written} of {len(data)} bytes: is the disk full?)")
        if self._sync:
            os.fsync(fd)

    def append_lines(self, fd: int, stat: os.stat_result, lines: bytes, torn: bool | None = None) -> bytes:
        """Appends whole lines (a journal's): after a torn last line (a writer killed mid-write, a
        full disk) a newline comes first, so the torn bytes stay a line of their own. `torn`: whether
        the file ends in one, when the caller knows (else its last byte is read). Returns what was
        written."""
        if torn is None:
            torn = bool(stat.st_size) and os.pread(fd, 1, stat.st_size - 1) != b"\n"
        if torn:
            lines = b"\n" + lines
        self.write(fd, lines, None if self._append else stat.st_size)  # under the lock, the end stays put
        return lines

    def close(self) -> None:
        with self._mutex:
            self._close()

    def _descriptor(self) -> int:
        if self._fd is not None and self._pid != os.getpid():
            self._close()  # inherited through a fork: the child locks a descriptor of its own
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd, self._pid = os.open(self.path, self._flags, 0o644), os.getpid()
            self.opened += 1
        return self._fd

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def shard_of(key: str, shards: int) -> int:
    """Which of `shards` files holds `key`: stable across processes, unlike hash()."""
    return zlib.crc32(key.encode("utf-8")) % shards


def fixed_record(data: bytes, size: int) -> bytes:
    """`data` padded with spaces to `size` bytes (the last a newline): one record rewritten in place."""
    if len(data) >= size:
        raise ValueError(f"a record of {len(data)} bytes does not fit in {size}")
    return data.ljust(size - 1) + b"\n"


def _same_file(stat: os.stat_result, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    return (current.st_dev, current.st_ino) == (stat.st_dev, stat.st_ino)


def assign_ids(items: list[Any], taken: set[int], start: int = 1) -> int:
    """Given ids are kept (ValueError if taken, or given twice); the others follow the highest id (and
    are at least `start`). Returns the id after the highest now in use."""
    given = [item.id for item in items if item.id is not None]
    if len(given) != len(set(given)) or taken.intersection(given):
        raise ValueError("an imported id is already taken")
    next_id = max(start, max(taken | set(given), default=0) + 1)
    for item in items:
        if item.id is None:
            item.id, next_id = next_id, next_id + 1
    return next_id


def stored_fields(entity: Customer | Integration) -> dict[str, Any]:
    """What TinyDB stores of an entity: everything but the id, which is the document's id."""
    values = entity.to_record()
    del values["id"]
    return values
