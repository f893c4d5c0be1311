"""A PgBouncer of our own in front of a PostgreSQL server: what the tests and `scripts/bench --scale`
put between the store and the database, as deployments do (transaction mode, a small pool).

Debian's `pgbouncer` (`scripts/test` installs it when it runs as root). It runs in the foreground as
a child of the process that starts it, listening on loopback only. Its clients log in as the server
URL's user: with that URL's password (md5), or, when the URL has none (a server that trusts its
local clients), without one. The password is in the auth file, in a folder only PgBouncer reads:
PgBouncer refuses to run as root, and started by root it switches to `nobody`, which then owns the
folder (it reads the configuration again on RELOAD).

Databases are added and removed while it runs (`add_database`, `remove_database`: the file is
rewritten, then RELOAD); the admin console answers `show("POOLS")` and the like.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

ADMIN_DATABASE = "pgbouncer"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
UNPRIVILEGED_USER = "nobody"


class PgBouncerUnavailable(RuntimeError):
    """PgBouncer is not installed, or did not start (the message says which, with its log's end)."""


def binary() -> str | None:
    """The pgbouncer executable (Debian puts it in /usr/sbin, which a non-root PATH may lack)."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgBouncer:
    """One PgBouncer process: `start()`, then `url(database)` for clients, `stop()` at the end."""

    def __init__(self, server_url: str, *, pool_size: int, max_clients: int = 200,
                 pool_mode: str = "transaction", port: int | None = None) -> None:
        server = urlsplit(server_url)
        self.user = unquote(server.username or "postgres")
        self._password = unquote(server.password or "")
        self._server = f"host={server.hostname or '127.0.0.1'} port={server.port or 5432}"
        self.server_database = unquote(server.path.lstrip("/")) or self.user
        self.pool_size, self.max_clients, self.pool_mode = pool_size, max_clients, pool_mode
        self.port = port or free_port()
        self._databases: dict[str, str] = {}  # name -> its connection string to the server
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: Any = None
        self._admin_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # Life -------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> PgBouncer:
        exe = binary()
        if exe is None:
            raise PgBouncerUnavailable("pgbouncer is not installed (Debian: apt-get install pgbouncer; "
                                       "scripts/test installs it when run as root)")
        self._dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self._dir.chmod(0o700)
        command = [exe]
        if os.geteuid() == 0:
            command += ["-u", UNPRIVILEGED_USER]
        self._write_config()
        log = open(self._dir / "pgbouncer.log", "wb")  # noqa: SIM115 - the child writes it for its life
        with log:
            self._proc = subprocess.Popen([*command, str(self._dir / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise PgBouncerUnavailable(f"pgbouncer exited with status {self._proc.returncode}: {self.log_tail()}")
            try:
                self.show("VERSION")
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PgBouncerUnavailable(f"pgbouncer did not answer within {timeout:.0f} s: {self.log_tail()}") \
                        from None
                time.sleep(0.05)

    def stop(self) -> None:
        with self._admin_lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 15) -> str:
        path = self._dir / "pgbouncer.log" if self._dir else None
        if path is None or not path.exists():
            return "(no log)"
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty log)"

    # Databases --------------------------------------------------------------------------------
    def url(self, database: str, **query: str) -> str:
        """A client's URL for `database` (one this PgBouncer serves)."""
        login = quote(self.user, safe="") + (f":{quote(self._password, safe='')}" if self._password else "")
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}" + (f"?{urlencode(query)}" if query else "")

    def add_database(self, name: str, search_path: str | None = None) -> str:
        """Serve `name`, a database on the server (the server URL's, with the schema `search_path`
        set on each server connection: a pool of its own per schema); returns its client URL."""
        if not _NAME.fullmatch(name) or (search_path and not _NAME.fullmatch(search_path)):
            raise ValueError(f"not a plain SQL name: {name!r} / {search_path!r}")
        entry = f"{self._server} dbname={self.server_database}"
        if search_path:
            entry += f" connect_query='SET search_path TO {search_path}'"
        self._databases[name] = entry
        self._reload()
        return self.url(name)

    def remove_database(self, name: str) -> None:
        """Close the database's client and server connections and stop serving it."""
        if self._databases.pop(name, None) is not None:
            self.command(f"KILL {name}")
            self._reload()

    def _reload(self) -> None:
        if self._proc is not None:
            self._write_config()
            self.command("RELOAD")

    def _write_config(self) -> None:
        assert self._dir is not None
        databases = "\n".join(f"{name} = {entry}" for name, entry in self._databases.items())
        password = self._password.replace('"', '""')
        (self._dir / "users.txt").write_text(f'"{self.user}" "{password}"\n')
        (self._dir / "pgbouncer.ini").write_text(f"""\
[databases]
{databases}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = {"md5" if self._password else "trust"}
auth_file = {self._dir / "users.txt"}
admin_users = {self.user}
pool_mode = {self.pool_mode}
default_pool_size = {self.pool_size}
max_client_conn = {self.max_clients}
""")
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            for path in (self._dir, *self._dir.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)

    # The admin console ------------------------------------------------------------------------
    def command(self, text: str) -> None:
        self.show(text, rows=False)

    def show(self, what: str, rows: bool = True) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console (or any admin command, `rows=False`), as dicts.
        The console speaks only the simple query protocol: hence psycopg's ClientCursor."""
        import psycopg
        from psycopg.rows import dict_row

        text = what if not rows or what.upper().startswith("SHOW ") else f"SHOW {what}"
        with self._admin_lock:
            if self._admin is None or self._admin.closed:
                self._admin = psycopg.connect(self.url(ADMIN_DATABASE), autocommit=True, connect_timeout=2,
                                              cursor_factory=psycopg.ClientCursor)
            try:
                cur = self._admin.cursor(row_factory=dict_row)
                cur.execute(text)
                return cur.fetchall() if rows and cur.description else []
            except psycopg.OperationalError:
                self._admin.close()
                raise
