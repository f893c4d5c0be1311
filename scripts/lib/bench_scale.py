"""scripts/bench --scale N: N warm action containers against one PostgreSQL through PgBouncer.

On OpenWhisk every warm container is a process of its own running one activation at a time, with its
own store object and connection pool; hundreds of them reach one database through PgBouncer in
transaction mode. Here each container is a process that runs the exchange sequence's three `main`s
in turn (a container per sequence, not per action: the database sees one client per container
either way), exchanging for existing and new customers (alternately) as fast as it can, for the
scenario's time. A closed loop: every container is always busy, so the latency is mostly the wait
for the machine's cores (Little's law: N containers / throughput), and what is measured is whether
N containers fit (errors, server connections), not how fast one exchange is.

To keep 200 processes light they are forked from one prepared parent (this file run as a script:
it imports only what the actions import, then freezes its objects out of the garbage collector's
reach, so the forked pages stay shared). Requests are signed in advance by the benchmark, each with
its own nonce. The benchmark's process watches meanwhile: PostgreSQL's `pg_stat_activity` (the
server connections PgBouncer opened for the containers, named by their `application_name`) and
PgBouncer's admin console (`SHOW POOLS`: clients, clients waiting, server connections).

After the timed run, `race` of the containers exchange for one new email at the same moment: the
find-or-create race, through the pooler, must still make one customer.

    parent (benchmark) --pickle: ScaleSpec--> this script --fork--> N containers
    parent <--pickle: ("ready", memory)-- ; --("go",)--> ; <--("done", results)--
"""
from __future__ import annotations

import base64
import contextlib
import gc
import importlib.util
import io
import json
import os
import pickle
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

NEW, EXISTING = "new", "existing"
READY_TIMEOUT = 120.0  # seconds for every container to be forked and warm


@dataclass
class ScaleSpec:
    """What the containers run: the sequence's steps (each action's inputs and `__main__.py`), the
    requests signed for each container ((kind, web params) each), and the race's requests."""

    duration: float
    sequence_inputs: dict[str, Any]
    steps: list[tuple[dict[str, Any], str]]
    requests: list[list[tuple[str, dict[str, Any]]]]
    race: list[dict[str, Any]] = field(default_factory=list)

    @property
    def containers(self) -> int:
        return len(self.requests)


@dataclass
class ContainerResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {EXISTING: [], NEW: []})  # answered with a token
    errors: dict[str, int] = field(default_factory=lambda: {EXISTING: 0, NEW: 0})
    first_failure: str = ""
    in_time: dict[str, int] = field(default_factory=lambda: {EXISTING: 0, NEW: 0})  # answered before the time was up
    exhausted: bool = False  # it sent every request signed for it before the time was up


# ------------------------------------------------------------------------------ the parent's side

class Watch(threading.Thread):
    """Samples PostgreSQL's and PgBouncer's view of the connections every `interval` seconds; keeps
    the peaks."""

    def __init__(self, postgres_url: str, application_name: str, bouncer: Any, database: str,
                 interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        import psycopg

        self._conn = psycopg.connect(postgres_url, autocommit=True)
        self._name, self._bouncer, self._database, self._interval = application_name, bouncer, database, interval
        self._finished = threading.Event()
        self.peaks = {"server_connections": 0, "pgbouncer_servers": 0, "pgbouncer_clients": 0,
                      "pgbouncer_clients_waiting": 0, "pgbouncer_maxwait_ms": 0.0}
        self.samples = 0

    def sample(self) -> None:
        servers = self._conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                     [self._name]).fetchone()[0]
        pool = next((p for p in self._bouncer.show("POOLS") if p["database"] == self._database), None)
        now = {"server_connections": servers}
        if pool is not None:
            now |= {"pgbouncer_servers": sum(pool[k] for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")),
                    "pgbouncer_clients": pool["cl_active"] + pool["cl_waiting"],
                    "pgbouncer_clients_waiting": pool["cl_waiting"],
                    "pgbouncer_maxwait_ms": pool["maxwait"] * 1000 + pool["maxwait_us"] / 1000}
        for key, value in now.items():
            self.peaks[key] = max(self.peaks[key], value)
        self.samples += 1

    def run(self) -> None:
        while not self._finished.is_set():
            self.sample()
            self._finished.wait(self._interval)

    def stop(self) -> dict[str, Any]:
        self._finished.set()
        self.join()
        self.sample()
        self._conn.close()
        return self.peaks


def simulate(spec: ScaleSpec, watch: Watch, env: dict[str, str], timeout: float = 300.0) -> dict[str, Any]:
    """Run the containers (this file as a script, see above) while `watch` samples; their results."""
    proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                            start_new_session=True)
    assert proc.stdin and proc.stdout
    try:
        pickle.dump(spec, proc.stdin)
        proc.stdin.flush()
        kind, memory = _receive(proc, timeout)
        assert kind == "ready", kind
        watch.start()
        pickle.dump(("go",), proc.stdin)
        proc.stdin.flush()
        kind, results = _receive(proc, timeout)
        assert kind == "done", kind
        proc.wait(timeout=60)
        return {"memory": memory, "peaks": watch.stop(), **results}
    finally:
        if watch.is_alive():
            watch.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, 9)  # the group this function started: the parent and its containers
            proc.wait()


def _receive(proc: subprocess.Popen[bytes], timeout: float) -> Any:
    box: list[Any] = []
    reader = threading.Thread(target=lambda: box.append(pickle.load(proc.stdout)), daemon=True)  # type: ignore[arg-type]
    reader.start()
    reader.join(timeout)
    if not box:
        raise RuntimeError(f"the containers' parent gave no answer within {timeout:.0f} s (exit status {proc.poll()})")
    return box[0]


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """By kind: the latencies (of every exchange begun in the time), the exchanges answered within
    it, and the errors."""
    containers: list[ContainerResult] = results["containers"]

    def total(attribute: str) -> dict[str, Any]:
        return {kind: sum(getattr(c, attribute)[kind] for c in containers) for kind in (EXISTING, NEW)}

    return {"latencies": {kind: [x for c in containers for x in c.latencies[kind]] for kind in (EXISTING, NEW)},
            "in_time": total("in_time"), "errors": total("errors"),
            "failures": [c.first_failure for c in containers if c.first_failure],
            "exhausted": sum(c.exhausted for c in containers)}


# ------------------------------------------------------------------- the containers' parent (script)

def _load_main(path: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"scale_{Path(path).parent.name.replace('-', '_')}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _exchange(sequence_inputs: dict[str, Any], steps: list[tuple[dict[str, Any], Any]],
              params: dict[str, Any]) -> tuple[str | None, str]:
    """The sequence's mains in turn, as OpenWhisk composes them (stdout is the activation's log):
    (the customer token, or None and what the result and the log said)."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        payload = {**sequence_inputs, **params}
        for inputs, main in steps:
            payload = main({**inputs, **payload})
            if "error" in payload:
                break
    token = payload.get("body", {}).get("token") if payload.get("statusCode") == 200 else None
    return token, "" if token else f"{str(payload)[:300]} | log: {log.getvalue()[-500:]}"


def token_customer_id(token: str) -> int:
    """The `uid` claim of a customer token (read, not verified: the race only compares them)."""
    claims = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["uid"]


def _container(index: int, spec: ScaleSpec, steps: list[tuple[dict[str, Any], Any]], ready: Any, start: Any,
               started: Any, results: Any, race_barrier: Any) -> None:
    requests = spec.requests[index]
    result = ContainerResult()
    try:
        kind, params = requests[0]
        token, failure = _exchange(spec.sequence_inputs, steps, params)  # warm: connect, check the schema
        if not token:
            result.errors[kind] += 1
            result.first_failure = f"warm-up: {failure}"
        ready.wait(READY_TIMEOUT)
        start.wait()
        time.sleep(max(0.0, started.value - time.monotonic()))  # all at once, however long waking them took
        deadline = started.value + spec.duration
        for kind, params in requests[1:]:
            t0 = time.monotonic()
            if t0 >= deadline:
                break
            token, failure = _exchange(spec.sequence_inputs, steps, params)
            ended = time.monotonic()
            if token:
                result.latencies[kind].append(ended - t0)
                result.in_time[kind] += ended <= deadline
            else:
                result.errors[kind] += 1
                result.first_failure = result.first_failure or failure
        else:
            result.exhausted = True
    except Exception as error:  # reported, never lost: the benchmark counts it as an error
        result.errors[EXISTING] += 1
        result.first_failure = result.first_failure or f"{type(error).__name__}: {error}"
    results.put(("container", result))
    if index < len(spec.race):
        try:
            race_barrier.wait(READY_TIMEOUT)
            t0 = time.monotonic()
            token, failure = _exchange(spec.sequence_inputs, steps, spec.race[index])
            results.put(("race", (token_customer_id(token) if token else None, failure, time.monotonic() - t0)))
        except Exception as error:
            results.put(("race", (None, f"{type(error).__name__}: {error}", 0.0)))


def _pss_mb(pid: int) -> float:
    """The process's proportional set size: its own pages plus its share of the pages it shares."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def containers_parent(inbox: BinaryIO, outbox: BinaryIO) -> None:
    import multiprocessing

    spec: ScaleSpec = pickle.load(inbox)
    steps = [(inputs, _load_main(path)) for inputs, path in spec.steps]
    ctx = multiprocessing.get_context("fork")
    n = spec.containers
    ready, race_barrier = ctx.Barrier(n + 1), ctx.Barrier(max(1, len(spec.race)))
    start, started, results = ctx.Event(), ctx.Value("d", 0.0), ctx.SimpleQueue()
    gc.freeze()  # the imported modules' objects: never traversed, so their pages stay shared after fork
    procs = [ctx.Process(target=_container, args=(i, spec, steps, ready, start, started, results, race_barrier),
                         daemon=True) for i in range(n)]
    for proc in procs:
        proc.start()
    ready.wait(READY_TIMEOUT)  # every container warm (a container that fails raises BrokenBarrierError here)
    pss = [_pss_mb(proc.pid) for proc in procs]
    pickle.dump(("ready", {"pss_mb_median": round(statistics.median(pss), 1), "pss_mb_total": round(sum(pss))}), outbox)
    outbox.flush()
    assert pickle.load(inbox) == ("go",)
    started.value = time.monotonic() + 0.5 + n * 0.005  # a moment ahead: the time to wake every container
    start.set()
    containers, race = [], []
    while len(containers) < n or len(race) < len(spec.race):
        kind, value = results.get()
        (containers if kind == "container" else race).append(value)
    for proc in procs:
        proc.join()
    pickle.dump(("done", {"containers": containers, "race": race}), outbox)
    outbox.flush()


if __name__ == "__main__":
    # The messages use this process's stdout; what the actions or the libraries print goes to stderr.
    # Run from the module `bench_scale` (this folder is sys.path[0]), whose classes the parent unpickles.
    import bench_scale

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    bench_scale.containers_parent(sys.stdin.buffer, out)
