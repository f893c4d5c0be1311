"""Warm workers per action, as OpenWhisk's invoker keeps warm containers, and a queue in front of them.

Each action gets its own pool: an idle worker is reused (module state survives between activations,
as in a warm container); while fewer than `max_workers` exist, a new one is started. An activation
that finds no idle worker waits in the action's queue, and workers are handed to waiting activations
in their order of arrival (FIFO), whichever comes first: a busy worker released, or a new one started
(in the background, so that no activation is tied to a cold start while a warm worker frees up).
The queue is bounded as OpenWhisk's scheduler bounds its per-action queue (`emulator.throttling`):
at most `queue_length` activations wait for a busy worker, and none waits for one longer than its
action's time limit; past either bound the activation is throttled (`Throttled`: the caller answers
429). One that waits for a worker being started gets that start's outcome instead (the first waiters
get the starts under way), a worker or its init's failure, with the logs that say why: the init's
timeout, the same limit, bounds that wait.
`prewarm` workers are started ahead of load (OpenWhisk's prewarmed containers, its stem cells), so
that a first burst finds them warm.

A worker that failed (timeout, crash) is discarded. When the action's staged files change, the pool
restages and retires the old workers: the kernel says when something in the source folders changed
(`watch.FolderWatch`), then the files' stats tell whether the staged layout did. The stats are also
compared when the last comparison is older than STAT_EVERY: inotify does not see a file edited
through a symlink into another folder, nor changes made by another machine on a network filesystem.
"""
from __future__ import annotations

import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from emulator.manifest import Action
from emulator.runtime import staging
from emulator.runtime.containers import Command, RunOutcome, Worker, default_command
from emulator.runtime.watch import FolderWatch
from emulator.throttling import TOO_MANY_CONCURRENT_REQUESTS, Throttled, not_initiated

STAT_EVERY = 1.0  # seconds
QUEUE_LENGTH = 64  # activations that may wait for a busy worker, per action (and server process)
SHUTTING_DOWN = "the runtime is shutting down"


@dataclass
class PoolRun:
    """A RunOutcome plus the timings the activation record reports: when a worker took the
    activation (the pool's clock, seconds; a cold start's init included, the wait for a worker not),
    and the wait and the init (ms)."""

    outcome: RunOutcome
    start: float
    wait_ms: int
    init_ms: int | None


@dataclass(eq=False)
class _Waiter:
    """An activation in the queue; the pool fills in what it gets, then sets `ready`."""

    arrived: float  # time.monotonic()
    ready: threading.Event = field(default_factory=threading.Event)
    worker: Worker | None = None
    failed: RunOutcome | None = None  # the worker started for it did not initialize
    init_ms: int | None = None  # that worker's start, when it waited for it
    error: BaseException | None = None  # the pool closed, or a worker could not even be spawned
    taken: float = 0.0  # time.monotonic() when it got its worker (its init's start, if it waited for that)
    start: float = 0.0  # the same moment on the pool's clock


@dataclass
class _Start:
    """When a new worker's start began (monotonic and the pool's clock) and ended (monotonic)."""

    began: float
    began_at: float
    ready: float

    def init_ms(self) -> int:
        return int((self.ready - self.began) * 1000)

    def waited_by(self, waiter: _Waiter) -> None:
        """`waiter` arrived before the worker was ready: it waited for (some of) its start, which its
        record reports (initTime, and a start that includes the init)."""
        waiter.init_ms = self.init_ms()
        waiter.taken = max(waiter.arrived, self.began)
        waiter.start = self.began_at + max(0.0, waiter.arrived - self.began)


class ActionPool:
    """The workers of one action; `run` is safe to call from many threads."""

    def __init__(self, action: Action, root: Path, stage_dir: Path, clock: Callable[[], float],
                 max_workers: int = 4, command: Command | None = None, sentinels: bool = True,
                 queue_length: int = QUEUE_LENGTH, prewarm: int = 0) -> None:
        self.action = action
        self._root = root
        self._stage_dir = stage_dir
        self._clock = clock
        self.max_workers = max(1, max_workers)
        self.queue_length = max(0, queue_length)
        self.prewarm = min(max(0, prewarm), self.max_workers)
        # Our launcher on manifest actions: the staged modules' bytecode is compiled once, in this
        # process, and found by the workers under the stage dir (not for a custom command).
        self._pycache = stage_dir / "pycache" if command is None and not action.isolated else None
        self._command = command or default_command(action.main, isolated=action.isolated, pycache=self._pycache)
        self._sentinels = sentinels
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._live: set[Worker] = set()
        self._queue: deque[_Waiter] = deque()
        self._count = 0  # live workers and workers being started
        self._starting = 0
        self._new: dict[Worker, _Start] = {}  # how a new worker started, until its first activation
        self._starts: set[threading.Thread] = set()
        self._version: tuple | None = None
        self._folder: Path | None = None
        self._snapshot: staging.Snapshot | None = None
        self._compared = 0.0  # when the stats were last compared with the snapshot (monotonic)
        self._watch: FolderWatch | None = None
        self._closed = False

    def run(self, message: dict[str, Any]) -> PoolRun:
        """Run one activation on a worker; raises Throttled when none takes it in time."""
        timeout_ms = self.action.timeout_ms
        waiter = self._acquire(timeout_ms)
        wait_ms = int((waiter.taken - waiter.arrived) * 1000)
        if waiter.failed is not None:
            return PoolRun(waiter.failed, waiter.start, wait_ms, waiter.init_ms)
        worker = waiter.worker
        assert worker is not None
        outcome = worker.run(message, timeout_ms)
        self._release(worker, outcome.worker_ok)
        return PoolRun(outcome, waiter.start, wait_ms, waiter.init_ms)

    def start_prewarmed(self) -> None:
        """Start workers in the background until `prewarm` exist (stage the action first)."""
        with self._lock:
            if self._closed:
                return
            self._refresh()
            self._fill()

    def wait_started(self, timeout: float) -> None:
        """Wait, `timeout` s at most, for the starts under way (each ends by its init's timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            starts = list(self._starts)
        for thread in starts:
            thread.join(max(0.0, deadline - time.monotonic()))

    def workers(self) -> int:
        """Live workers, and those being started."""
        with self._lock:
            return self._count

    def idle(self) -> int:
        """Workers ready for an activation."""
        with self._lock:
            return len(self._idle)

    def waiting(self) -> int:
        """Activations in the queue."""
        with self._lock:
            return len(self._queue)

    def shutdown(self) -> None:
        """Kill every worker, busy ones included (their activation ends as a developer error)."""
        with self._lock:
            live, self._idle = list(self._live), []
            starts = list(self._starts)
            self._close()
        for w in live:
            w.kill()
        for thread in starts:  # a worker spawned just now is killed by its own start, seeing the pool closed
            thread.join(timeout=10)
        if self._folder is not None and self.action.staged is None:
            self._unstage(self._folder)

    def retire(self) -> None:
        """Stop taking activations: idle workers die now, busy ones when their activation ends
        (a redeployed action's in-flight activations finish on the old code, as in OpenWhisk)."""
        with self._lock:
            idle, self._idle = self._idle, []
            for w in idle:
                self._forget(w)
            self._close()
        for w in idle:
            w.kill()
        if self._folder is not None and self.action.staged is None and not self._live:
            self._unstage(self._folder)

    # ---------------------------------------------------------------------------------- internals

    def _acquire(self, timeout_ms: int) -> _Waiter:
        """An idle worker at once, else a place in the queue until a worker is handed over; Throttled
        when the queue is full or the wait reaches the action's time limit."""
        waiter = _Waiter(time.monotonic())
        with self._lock:
            if self._closed:
                raise RuntimeError(SHUTTING_DOWN)
            self._refresh()
            if self._idle and not self._queue:
                self._give(self._idle.pop(), waiter)
                return waiter
            if self._count < self.max_workers:
                self._launch()
            elif len(self._queue) - self._starting >= self.queue_length:
                raise Throttled(TOO_MANY_CONCURRENT_REQUESTS)
            self._queue.append(waiter)
        deadline = waiter.arrived + timeout_ms / 1000
        while not waiter.ready.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:  # handed over at the last moment, or not at all
                if waiter.ready.is_set():
                    break
                if self._queue.index(waiter) < self._starting:
                    # A worker is being started for it (the first waiters get the starts under way):
                    # it gets that start's outcome, which the init's timeout, the same limit, bounds.
                    deadline = time.monotonic() + timeout_ms / 1000
                    continue
                self._queue.remove(waiter)
                waited = int((time.monotonic() - waiter.arrived) * 1000)
                raise Throttled(not_initiated(timeout_ms), waited)
        if waiter.error is not None:
            raise waiter.error
        return waiter

    def _launch(self) -> None:
        """Start a worker in the background; called under the lock."""
        self._count += 1
        self._starting += 1
        # The start begins now (the thread's own start is part of it), on both clocks.
        thread = threading.Thread(target=self._start, args=(self._folder, self._version, time.monotonic(),
                                                            self._clock()),
                                  daemon=True, name=f"start-{self.action.fqn}")
        self._starts.add(thread)
        thread.start()

    def _start(self, folder: Path, version: object, began: float, began_at: float) -> None:
        worker = Worker(folder, self._command, self._clock, self._sentinels)
        worker.version = version
        with self._lock:
            if self._closed:  # shut down before this start began: nothing to spawn
                self._starting -= 1
                self._starts.discard(threading.current_thread())
                self._forget(worker)
                return
            self._live.add(worker)
        failed: RunOutcome | None = None
        error: BaseException | None = None
        try:
            failed = worker.start(self.action.timeout_ms)
        except Exception as exc:  # the process could not be spawned at all: the emulator's fault
            worker.kill()
            error = exc
        start = _Start(began, began_at, time.monotonic())
        with self._lock:
            self._starting -= 1
            self._starts.discard(threading.current_thread())
            if failed is None and error is None:
                self._new[worker] = start
                discard = self._hand_over(worker)
            else:
                self._forget(worker)
                if self._queue:  # an activation waiting for it gets the init failure: its logs say why
                    waiter = self._queue.popleft()
                    waiter.failed, waiter.error = failed, error
                    start.waited_by(waiter)
                    waiter.ready.set()
                self._fill(keep_warm=False)  # a worker that cannot start is not restarted for nothing
                discard = None
        if discard is not None:
            discard.kill()

    def _hand_over(self, worker: Worker) -> Worker | None:
        """A worker free for the next activation: the longest waiting one, else idle; called under
        the lock. A worker of a stale version, or of a closed pool, is returned, to be killed outside it."""
        if self._closed or worker.version != self._version or not worker.alive():
            self._forget(worker)
            self._fill()
            return worker
        if not self._queue:
            self._idle.append(worker)
            return None
        waiter = self._queue.popleft()
        self._give(worker, waiter)
        waiter.ready.set()
        return None

    def _give(self, worker: Worker, waiter: _Waiter) -> None:
        """`worker` runs `waiter`'s activation. A new worker's first activation reports its start if it
        arrived before the worker was ready (it waited for it); a prewarmed worker's does not. Under
        the lock."""
        waiter.worker = worker
        start = self._new.pop(worker, None)
        if start is not None and waiter.arrived < start.ready:
            start.waited_by(waiter)
        else:
            waiter.taken, waiter.start = time.monotonic(), self._clock()

    def _fill(self, keep_warm: bool = True) -> None:
        """Start workers for activations that wait with none on its way, and (`keep_warm`) up to
        `prewarm` workers again after one was discarded; called under the lock."""
        while not self._closed and self._count < self.max_workers and (
                len(self._queue) > self._starting or (keep_warm and self._count < self.prewarm)):
            self._launch()

    def _release(self, worker: Worker, ok: bool) -> None:
        with self._lock:
            if ok and worker.alive():
                discard = self._hand_over(worker)
            else:
                self._forget(worker)
                self._fill()
                discard = worker
        if discard is not None:
            discard.kill()

    def _forget(self, worker: Worker) -> None:
        """Called under the lock."""
        self._count -= 1
        self._live.discard(worker)
        self._new.pop(worker, None)

    def _close(self) -> None:
        """No more activations: the waiting ones are told; called under the lock."""
        self._closed = True
        self._stop_watching()
        while self._queue:
            waiter = self._queue.popleft()
            waiter.error = RuntimeError(SHUTTING_DOWN)
            waiter.ready.set()

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
        for w in stale:
            self._forget(w)
            w.kill()
        # Busy workers still use the old folder; it is cleaned up with the pool's stage dir.
        self._folder = staging.stage(layout, self._stage_dir, self.action.fqn)
        if self._pycache is not None:
            staging.write_bytecode(layout, self._pycache / self._folder.name)
        restaged = self._version is not None
        self._version = version
        if restaged:  # the new code warm again, as after the first staging
            self._fill()

    def _stop_watching(self) -> None:
        """Called under the lock."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _unstage(self, folder: Path) -> None:
        staging.unstage(folder)
        if self._pycache is not None:
            staging.unstage(self._pycache / folder.name)


def new_stage_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ow-emulator-"))
