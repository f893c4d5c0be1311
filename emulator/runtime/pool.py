"""Warm workers per action, as OpenWhisk's invoker keeps warm containers.

Each action gets its own pool: an idle worker is reused (module state survives between
activations, as in a warm container), a new one is started while fewer than `max_workers` exist,
otherwise the activation waits for one to be released. A worker that failed (timeout, crash) is
discarded. When the action's staged files change, the pool restages and retires the old workers:
the kernel says when something in the source folders changed (`watch.FolderWatch`), then the files'
stats tell whether the staged layout did. The stats are also compared when the last comparison is
older than STAT_EVERY: inotify does not see a file edited through a symlink into another folder, nor
changes made by another machine on a network filesystem.
"""
from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from emulator.manifest import Action
from emulator.runtime import staging
from emulator.runtime.containers import Command, RunOutcome, Worker, default_command
from emulator.runtime.watch import FolderWatch

STAT_EVERY = 1.0  # seconds


@dataclass
class PoolRun:
    """A RunOutcome plus the timings the activation record reports: when a worker took the
    activation (the pool's clock, seconds; a cold start's init included, the wait for a worker not),
    and the wait and the init (ms)."""

    outcome: RunOutcome
    start: float
    wait_ms: int
    init_ms: int | None


class ActionPool:
    """The workers of one action; `run` is safe to call from many threads."""

    def __init__(self, action: Action, root: Path, stage_dir: Path, clock: Callable[[], float],
                 max_workers: int = 4, command: Command | None = None, sentinels: bool = True) -> None:
        self.action = action
        self._root = root
        self._stage_dir = stage_dir
        self._clock = clock
        self.max_workers = max(1, max_workers)
        # Our launcher on manifest actions: the staged modules' bytecode is compiled once, in this
        # process, and found by the workers under the stage dir (not for a custom command).
        self._pycache = stage_dir / "pycache" if command is None and not action.isolated else None
        self._command = command or default_command(action.main, isolated=action.isolated, pycache=self._pycache)
        self._sentinels = sentinels
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._live: set[Worker] = set()
        self._count = 0
        self._version: tuple | None = None
        self._folder: Path | None = None
        self._snapshot: staging.Snapshot | None = None
        self._compared = 0.0  # when the stats were last compared with the snapshot (monotonic)
        self._watch: FolderWatch | None = None
        self._closed = False

    def run(self, message: dict[str, Any]) -> PoolRun:
        timeout_ms = self.action.timeout_ms
        waited_from = time.monotonic()
        worker, start, init_ms, failed = self._acquire(timeout_ms)
        wait_ms = max(0, int((time.monotonic() - waited_from) * 1000) - (init_ms or 0))
        if failed is not None:
            return PoolRun(failed, start, wait_ms, init_ms)
        assert worker is not None
        outcome = worker.run(message, timeout_ms)
        self._release(worker, outcome.worker_ok)
        return PoolRun(outcome, start, wait_ms, init_ms)

    def workers(self) -> int:
        with self._cond:
            return self._count

    def shutdown(self) -> None:
        """Kill every worker, busy ones included (their activation ends as a developer error)."""
        with self._cond:
            self._closed = True
            live, self._idle = list(self._live), []
            self._stop_watching()
            self._cond.notify_all()
        for w in live:
            w.kill()
        if self._folder is not None and self.action.staged is None:
            self._unstage(self._folder)

    def retire(self) -> None:
        """Stop taking activations: idle workers die now, busy ones when their activation ends
        (a redeployed action's in-flight activations finish on the old code, as in OpenWhisk)."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            for w in idle:
                self._live.discard(w)
            self._stop_watching()
            self._cond.notify_all()
        for w in idle:
            w.kill()
        if self._folder is not None and self.action.staged is None and not self._live:
            self._unstage(self._folder)

    # ---------------------------------------------------------------------------------- internals

    def _refresh(self) -> None:
        """Restage if any source file changed; called under the lock."""
        if self.action.staged is not None:  # deployed: its unpacked zip never changes
            self._folder, self._version = self.action.staged, "deployed"
            return
        now = time.monotonic()
        if self._snapshot is not None:
            if self._watch is not None and not self._watch.changed() and now - self._compared < STAT_EVERY:
                return
            self._compared = now
            if staging.unchanged(self._snapshot):
                return
        watched = staging.watched_folders(self.action, self._root)
        self._stop_watching()
        self._watch = FolderWatch.open(watched)  # before the stats: a change from now on is noticed
        folders = staging.folder_stats(watched)
        layout = staging.zip_layout(self.action, self._root)
        version = staging.fingerprint(layout)
        self._snapshot = staging.snapshot(folders, version)
        self._compared = now
        if version == self._version:
            return
        stale, self._idle = self._idle, []
        self._count -= len(stale)
        for w in stale:
            self._live.discard(w)
            w.kill()
        # Busy workers still use the old folder; it is cleaned up with the pool's stage dir.
        self._folder = staging.stage(layout, self._stage_dir, self.action.fqn)
        if self._pycache is not None:
            staging.write_bytecode(layout, self._pycache / self._folder.name)
        self._version = version

    def _acquire(self, timeout_ms: int) -> tuple[Worker | None, float, int | None, RunOutcome | None]:
        """A worker (an idle one, else a new one started), when it was taken (the pool's clock, before a
        new one's start), and a new one's init time or failure."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the runtime is shutting down")
            self._refresh()
            while not self._idle and self._count >= self.max_workers:
                self._cond.wait()
                if self._closed:
                    raise RuntimeError("the runtime is shutting down")
                self._refresh()
            if self._idle:
                return self._idle.pop(), self._clock(), None, None
            self._count += 1
            folder, version = self._folder, self._version
        assert folder is not None
        worker = Worker(folder, self._command, self._clock, self._sentinels)
        worker.version = version
        with self._cond:
            self._live.add(worker)
        taken, started = self._clock(), time.monotonic()
        try:
            failed = worker.start(timeout_ms)
        except BaseException:
            worker.kill()
            self._forget(worker)
            raise
        init_ms = int((time.monotonic() - started) * 1000)
        if failed is not None:
            self._forget(worker)
            return None, taken, init_ms, failed
        return worker, taken, init_ms, None

    def _release(self, worker: Worker, ok: bool) -> None:
        with self._cond:
            keep = ok and worker.alive() and not self._closed and worker.version == self._version
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
                self._live.discard(worker)
            self._cond.notify()
        if not keep:
            worker.kill()

    def _stop_watching(self) -> None:
        """Called under the lock."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _unstage(self, folder: Path) -> None:
        staging.unstage(folder)
        if self._pycache is not None:
            staging.unstage(self._pycache / folder.name)

    def _forget(self, worker: Worker) -> None:
        with self._cond:
            self._count -= 1
            self._live.discard(worker)
            self._cond.notify()


def new_stage_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ow-emulator-"))
