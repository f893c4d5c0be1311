"""The load generator of scripts/bench: pre-built requests, keep-alive sockets, one process of its own.

Everything that costs CPU is done before the clock starts: each request is signed (OAuth 1.0a with a
fresh nonce) and encoded to the exact bytes sent. During the run a thread per connection only writes
those bytes and reads the answer (status line, Content-Length, body), so the generator's own cost per
request is a few tens of microseconds; `null_server` measures that ceiling against a server that
answers at once.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

MUTATION = ("mutation Exchange($input: ExchangeExternalCustomerTokenInput!) { exchangeExternalCustomerToken"
            "(input: $input) { customer { email firstname lastname is_subscribed } token } }")
PRESIGN_RATE = 3000  # signed requests made in advance per second of a timed run (more than the server answers)


@dataclass
class LoadSpec:
    """What to send: `kind` graphql | web | ping; `customers` picks emails: ("existing", n) or ("new", tag).
    `timeout`: seconds a request may go unanswered before it counts as unanswered (None: forever)."""

    host: str
    port: int
    kind: str
    path: str
    concurrency: int
    duration: float | None = None
    count: int | None = None
    integration: dict[str, Any] | None = None
    customers: tuple[str, Any] = ("existing", 1)
    warmup: int = 0
    progress: str = ""
    timeout: float | None = None


def customer_email(i: int) -> str:
    return f"c{i}@bench.example"


def build_requests(spec: LoadSpec, n: int, salt: str) -> list[bytes]:
    """`n` requests, each signed with its own nonce (pings are all the same bytes)."""
    host = f"{spec.host}:{spec.port}"
    if spec.kind == "ping":
        raw = f"GET {spec.path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return [raw] * n
    from customer_auth.integrations import Integration
    from customer_auth.oauth1 import SignedRequest, authorization_header

    integration = Integration.from_record(spec.integration or {})
    url = f"http://{host}{spec.path}"
    now = int(time.time())
    mode, arg = spec.customers
    rng = random.Random(salt)
    out = []
    for i in range(n):
        if mode == "existing":
            email = customer_email(rng.randrange(int(arg)))
        else:
            email = f"new-{arg}-{salt}-{i}@bench.example"
        customer = {"email": email, "firstname": "Bench", "lastname": "Mark"}
        body = {"customer": customer} if spec.kind == "web" else \
            {"query": MUTATION, "variables": {"input": {"customer": customer}}}
        payload = json.dumps(body)
        signed = SignedRequest("POST", url, {"content-type": "application/json"}, payload)
        auth = authorization_header(signed, integration, now, secrets.token_hex(16))
        data = payload.encode()
        out.append((f"POST {spec.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Authorization: {auth}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection reading answers with Content-Length (or up to a close)."""

    def __init__(self, host: str, port: int, timeout: float | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, lines[0].startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length is None:
            while self._fill(eof_ok=True):
                pass
            body, self.buf = self.buf[len(head) + 4:], b""
            close = True
        else:
            while len(rest) < length:
                self._fill()
                rest = self.buf[len(head) + 4:]
            body, self.buf = rest[:length], rest[length:]
        if close:
            self.close()
        return status, body

    def _fill(self, eof_ok: bool = False) -> bool:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            if eof_ok:
                return False
            self.close()
            raise ConnectionError("the server closed the connection")
        self.buf += chunk
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def ok_answer(kind: str, status: int, body: bytes) -> bool:
    if status != 200:
        return False
    return kind == "ping" or (b'"token"' in body and b'"errors"' not in body)


def throttled_answer(status: int, body: bytes) -> bool:
    """The emulator had no room for it: OpenWhisk's 429, or Commerce's Too Many Requests on /graphql."""
    return status == 429 or b'"graphql-too-many-requests"' in body


def drive(spec: LoadSpec) -> dict[str, Any]:
    """Run `spec`; returns the latencies (s), errors, elapsed time and the first failed answer."""
    # Pings are all the same bytes: a timed run sends them again until its time is up. Signed requests
    # carry a nonce each, so a timed run can only send the ones signed for it (`exhausted` says so).
    repeat = spec.kind == "ping" and spec.duration is not None
    planned = 1 if repeat else spec.count if spec.count is not None else int((spec.duration or 1) * PRESIGN_RATE)
    salt = secrets.token_hex(4)
    warm = build_requests(spec, spec.warmup, salt + "w") if spec.warmup else []
    requests = build_requests(spec, planned, salt)
    connections = [Connection(spec.host, spec.port, spec.timeout) for _ in range(spec.concurrency)]
    failures: list[str] = []

    def run(batch: list[bytes], record: bool, deadline: float | None) -> tuple[list[float], dict[str, int]]:
        counter = itertools.count()
        latencies: list[list[float]] = [[] for _ in connections]
        counts = {"errors": 0, "throttled": 0, "unanswered": 0}

        def loop(k: int) -> None:
            conn = connections[k]
            mine = latencies[k]
            while True:
                i = next(counter)
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                if i >= len(batch):
                    if not (repeat and record):
                        return
                    i %= len(batch)
                t0 = time.perf_counter()
                try:
                    status, body = conn.request(batch[i])
                except TimeoutError:
                    conn.close()
                    counts["unanswered"] += 1
                    continue
                except OSError as exc:
                    conn.close()
                    status, body = 0, str(exc).encode()
                t1 = time.perf_counter()
                if not ok_answer(spec.kind, status, body):
                    counts["errors"] += 1
                    counts["throttled"] += throttled_answer(status, body)
                    if len(failures) < 3:
                        failures.append(f"HTTP {status}: {body[:300].decode(errors='replace')}")
                if record:
                    mine.append(t1 - t0)

        threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(len(connections))]
        for t in threads:
            t.start()
        if record and spec.progress and sys.stderr.isatty():
            _progress(spec, threads, latencies, len(batch), deadline)
        for t in threads:
            t.join()
        return [x for part in latencies for x in part], counts

    if warm:
        run(warm, False, None)
        failures.clear()
    started = time.perf_counter()
    deadline = started + spec.duration if spec.duration else None
    latencies, counts = run(requests, True, deadline)
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    return {"latencies": latencies, **counts, "elapsed": elapsed, "failures": failures,
            "exhausted": spec.duration is not None and spec.count is None and not repeat
                         and len(latencies) >= len(requests)}


def _progress(spec: LoadSpec, threads: list[threading.Thread], latencies: list[list[float]], total: int,
              deadline: float | None) -> None:
    """A progress bar on stderr: by time for a timed run, by requests for a counted one."""
    start = time.perf_counter()
    width = 30
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        done = sum(len(x) for x in latencies)
        now = time.perf_counter()
        frac = min(1.0, (now - start) / (deadline - start)) if deadline else done / max(1, total)
        bar = "#" * int(frac * width)
        rate = done / max(1e-9, now - start)
        sys.stderr.write(f"\r  {spec.progress:<44} [{bar:<{width}}] {done:>7} req {rate:>7.0f}/s")
        sys.stderr.flush()
    sys.stderr.write("\r" + " " * 110 + "\r")
    sys.stderr.flush()


def drive_in_process(spec: LoadSpec, queue: Any) -> None:
    """multiprocessing target: the generator runs in a process of its own, as a real client would."""
    try:
        queue.put(drive(spec))
    except BaseException as exc:  # reported by the parent
        queue.put({"crash": f"{type(exc).__name__}: {exc}"})


# --------------------------------------------------------------------------- the generator's ceiling

def null_server(port_queue: Any) -> None:
    """An asyncio HTTP server answering every request at once with a tiny JSON body (keep-alive)."""
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())
