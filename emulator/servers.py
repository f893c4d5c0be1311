"""The HTTP servers the emulator can run on: Flask's threaded dev server, or gunicorn or granian with
several processes.

    serve(app_factory, host, port, server="gunicorn", processes=2, threads=8)

granian (its HTTP server is Rust; the app runs in `threads` Python threads per process) is the one the
README's Performance section measures: in `scripts/bench` it answered both the exchange and the bare
endpoint faster than gunicorn (gthread: keep-alive connections, `threads` requests at once per
process), which the benchmark measures beside it.

`app_factory()` builds one WSGI app with everything it needs (its own Controller, worker pools and
activation records). With gunicorn and granian it is called once in every server process, after the
fork, so no process shares threads, pipes or worker processes with another; the store is shared
through its own rules (TinyDB: file lock and atomic renames; PostgreSQL: the database), which already
hold across processes because every action worker is a process of its own.

What is per process with `processes > 1` (stated in the README): the activation records the
activations API lists (each answer comes from the process that served the request), and entities
deployed through the REST API (a PUT reaches one process). Use one process to deploy or inspect
activations; the bundle of the manifest, GraphQL and the web actions are the same in every process.
"""
from __future__ import annotations

import logging
import multiprocessing.util
import os
import socket
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.urls import uri_to_iri

from customer_auth.printable import PrintableFormatter, printable

SERVERS = ("flask", "gunicorn", "granian")
AppFactory = Callable[[], Any]


def cannot_listen(host: str, port: int) -> str | None:
    """Why nothing could listen on `host:port` (a port in use, an address not of this machine), or
    None. Asked before the emulator starts anything: a first start that creates the development
    integration and shows its credentials once must not then fail on the port. Bound with
    SO_REUSEADDR, as the servers bind, so a port in TIME_WAIT is free."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return error.strerror
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error.strerror or str(error)
    return None


class _RequestLog(WSGIRequestHandler):
    """Flask's request log without query strings (a GET /graphql carries its document and variables
    there, a shopper's password with them when a client sends one by mistake), and with the request
    text it does show escaped: the path, percent-decoded, and whatever a malformed request line holds."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", None)
        if path is None:  # the request line did not parse
            line = self.requestline
        else:
            path, query, _ = path.partition("?")
            line = f"{self.command} {uri_to_iri(path)}{'?…' if query else ''} {self.request_version}"
        self.log("info", '"%s" %s %s', line, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, message, *(printable(str(arg)) for arg in args))


def escape_logs() -> None:
    """This process's log lines on stderr with control characters escaped (the GraphQL facade's
    reasons quote request text), at WARNING, as Python shows them unconfigured. werkzeug's request
    log keeps a handler of its own: its banner is styled with escape sequences on purpose, and
    `_RequestLog` escapes the request text it quotes."""
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.INFO)
    werkzeug.addHandler(logging.StreamHandler())
    werkzeug.propagate = False


# The servers' own log lines, formatted as they format them, with control characters escaped.
_GUNICORN_LOGGING = {"formatters": {"generic": {
    "()": PrintableFormatter, "fmt": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
    "datefmt": "[%Y-%m-%d %H:%M:%S %z]"}}}
_GRANIAN_LOGGING = {"formatters": {
    "generic": {"()": PrintableFormatter, "fmt": "[%(levelname)s] %(message)s", "datefmt": "[%Y-%m-%d %H:%M:%S %z]"},
    "access": {"()": PrintableFormatter, "fmt": "%(message)s", "datefmt": "[%Y-%m-%d %H:%M:%S %z]"}}}


def serve(app_factory: AppFactory, host: str, port: int, server: str = "flask", processes: int = 1,
          threads: int = 8, on_exit: Callable[[Any], None] | None = None, quiet: bool = False) -> None:
    """Serve until stopped. `on_exit(app)` runs in each server process as it ends (shut its workers down)."""
    if server == "flask":
        app = app_factory()
        try:
            app.run(host=host, port=port, threaded=True, use_reloader=False, request_handler=_RequestLog)
        finally:
            if on_exit:
                on_exit(app)
        return
    if server == "gunicorn":
        _gunicorn(app_factory, host, port, processes, threads, on_exit, quiet).run()
    elif server == "granian":
        _granian(app_factory, host, port, processes, threads, on_exit, quiet)
    else:
        raise ValueError(f"unknown server {server!r}; one of {', '.join(SERVERS)}")


def _gunicorn(app_factory: AppFactory, host: str, port: int, processes: int, threads: int,
              on_exit: Callable[[Any], None] | None, quiet: bool) -> Any:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - depends on the venv
        raise SystemExit("emulate: --server gunicorn needs gunicorn: pip install -e '.[server]'") from None

    built: dict[int, Any] = {}

    def worker_exit(_server: Any, _worker: Any) -> None:
        app = built.pop(os.getpid(), None)
        if app is not None and on_exit:
            on_exit(app)

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": max(1, processes),
                # gthread: keep-alive connections and `threads` requests at once per process; the
                # sync worker would close every connection and serve one request at a time.
                "worker_class": "gthread",
                "threads": max(1, threads),
                "keepalive": 75,
                "timeout": 120,  # an action may run for 60 s (the graphql action's limit)
                "graceful_timeout": 10,
                "preload_app": False,  # app_factory runs in each process, after the fork
                "worker_exit": worker_exit,
                "accesslog": None,
                "logconfig_dict": _GUNICORN_LOGGING,
                "loglevel": "warning" if quiet else "info",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            app = app_factory()
            built[os.getpid()] = app
            return app

    return Application()


def _granian(app_factory: AppFactory, host: str, port: int, processes: int, threads: int,
             on_exit: Callable[[Any], None] | None, quiet: bool) -> None:
    try:
        from granian.constants import Interfaces
        from granian.server import Server
    except ImportError:  # pragma: no cover - depends on the venv
        raise SystemExit("emulate: --server granian needs granian: pip install -e '.[server]'") from None

    def load(_target: str) -> Any:
        """Runs in each server process (forked): its own app, shut down when the process ends."""
        app = app_factory()
        if on_exit:
            multiprocessing.util.Finalize(app, on_exit, args=(app,), exitpriority=10)
        return app

    server = Server("emulator", address=host, port=port, interface=Interfaces.WSGI, workers=max(1, processes),
                    blocking_threads=max(1, threads), log_level="warning" if quiet else "info",
                    log_access=False, log_dictconfig=_GRANIAN_LOGGING, websockets=False)
    server.serve(target_loader=load)
