"""The PostgreSQL store, for deployments that outgrow one machine.

- One `psycopg_pool.ConnectionPool` per store, opened on first use (creating the store costs nothing)
  and kept for the life of the warm action container, so activations after the first reuse its
  connection. It holds one connection by default: an OpenWhisk container runs one activation at a
  time, and hundreds of warm containers each holding several would exhaust the server's
  `max_connections` (`pool_max_size` raises it for a process that serves several threads).
  Connections are not checked before use (a check is one more round trip per request):
  a connection the server dropped (a restart, a failover, an idle timeout) fails on first use, is
  discarded with every other dead idle connection (`ConnectionPool.check`), and the work is retried
  once on a fresh connection.
- Few round trips: a lookup is one autocommit statement (no BEGIN / COMMIT around it); the nonce and
  the rate-limit bucket are decided by one statement; the audit entry is one INSERT.
- No request hangs: connecting is bounded by `connect_timeout`, waiting for a pooled connection by
  `pool_timeout`, and every statement by `statement_timeout`. A database that is down or slow raises
  `StoreError` with the reason (never the password); a down server is reported as soon as a connection
  attempt made during the request has failed, not after the whole wait.
- Through a connection pooler in transaction mode (PgBouncer, the way many containers share one
  database), each transaction may run on another server connection, shared with other clients: the
  store then keeps nothing in the session. No server-side prepared statements (psycopg's
  `prepare_threshold=None`: psycopg prepares a statement run five times, and its name then clashes on
  a server connection where another client prepared it: `DuplicatePreparedStatement`), and no
  session setting: `statement_timeout` travels with each statement, as `SET LOCAL statement_timeout =
  ...; <statement>` in one message, one implicit transaction and one round trip (the values are then
  bound by psycopg's client-side binding, `ClientCursor`). Nothing else here lives in a session:
  no advisory session lock (the migrations take `pg_advisory_xact_lock`), no LISTEN, no temporary
  table, no cursor WITH HOLD (the export's cursor lives in its transaction). A pooler is recognised
  on connecting: PgBouncer, like every pooler that multiplexes sessions, hands the client a cancel key
  of its own, so the process id in it is not the server process's `pg_backend_pid()` (one statement
  per new connection; `SHOW pool_mode` answers only on PgBouncer's admin console). `pgbouncer=true`
  skips that statement, `pgbouncer=false` keeps the session setting and prepared statements (a
  pooler in session mode, or a proxy that passes the cancel key through). PostgreSQL 13 or newer
  applies a `SET LOCAL` to the next statement of the same message; PgBouncer before 1.20 refuses the
  `options` parameter (set such settings on the database role instead).
- The rules the TinyDB store keeps under its file lock are kept here by the database: find-or-create
  and nonce use are single `INSERT ... ON CONFLICT` statements, integration names are `UNIQUE`.
- The schema is created and upgraded by `migrations.py` on first use of each pool; a current schema
  costs that pool one statement (`auto_migrate=0` turns migrating off, for a role without DDL rights;
  then run `scripts/store migrate`).
- Every value is bound as a parameter (server-side, or behind a pooler client-side by psycopg); column
  names come from code, composed with `psycopg.sql` once, when the module is imported.

The URL and its parameters: postgres_url.py.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool, PoolTimeout

from ..customers import Customer, email_key
from ..integrations import Integration
from . import migrations, postgres_url
from .base import AccountLink, Admission, RateLimit, Revocation, StoreError

log = logging.getLogger("customer_auth.store")

NONCE_PURGE_INTERVAL = 60.0  # seconds between purges of expired nonces (and ID token uses), per container
BATCH = 1000  # rows per executemany in imports, and per fetch in exports

CUSTOMER_COLUMNS = [f.name for f in fields(Customer) if f.name != "id"]
INTEGRATION_COLUMNS = [f.name for f in fields(Integration) if f.name != "id"]
AUDIT_COLUMNS = ["at", "outcome", "integration_id", "integration_name", "store_code", "customer_id", "created", "reason"]

T = TypeVar("T")

_abandoned_pools: list[ConnectionPool] = []  # pools inherited through fork: never closed in the child


class PostgresStore:
    """The `Store` interface over PostgreSQL."""

    def __init__(self, url: str) -> None:
        options = postgres_url.parse(url)
        self._conninfo, self.location = options.conninfo, options.location
        self._pool_timeout, self._pool_max_size = options.pool_timeout, options.pool_max_size
        self._statement_timeout, self._auto_migrate = options.statement_timeout, options.auto_migrate
        self._pgbouncer = options.pgbouncer  # None: find out on connecting
        self._set_local_timeout = sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(self._statement_timeout))
        self._pooled_cursor = _pooled_cursor_class(self._set_local_timeout)
        self._pool: ConnectionPool | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._migrated = False
        self._connect_error: tuple[float, Exception] | None = None
        self._next_purge = 0.0
        self._pooler_logged = False
        self._next_id_token_purge = 0.0

    # Connections -----------------------------------------------------------------------------
    def _ready_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                # Forked: the parent's connections are not ours to use, nor to close (closing
                # would end the parent's sessions). Keep the object alive and start afresh.
                _abandoned_pools.append(self._pool)
                self._pool, self._migrated = None, False
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._pool_max_size,
                    kwargs={"autocommit": True},
                    connection_class=self._connection_class(),
                    configure=self._configure,
                    timeout=self._pool_timeout,
                    reconnect_timeout=max(self._pool_timeout, 1.0),
                    num_workers=2,
                    name=f"store {self.location}",
                    open=False,
                )
                self._pool.open(wait=False)
                self._pid = os.getpid()
            return self._pool

    def _connection_class(self) -> type[psycopg.Connection[Any]]:
        """A Connection class that remembers why connecting failed, to tell the caller."""
        store = self

        class Connection(psycopg.Connection):  # type: ignore[type-arg]
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:  # type: ignore[override]
                try:
                    return super().connect(conninfo, **kwargs)
                except psycopg.Error as error:
                    store._connect_error = (time.monotonic(), error)
                    raise

        return Connection

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """A new connection: the session's statement_timeout, or, through a pooler, no session state."""
        pooled = self._pgbouncer
        if pooled is None:  # a pooler's cancel key is its own, not the server process's (see above)
            pooled = conn.execute("SELECT pg_backend_pid()").fetchone()[0] != conn.info.backend_pid
            if pooled and not self._pooler_logged:
                self._pooler_logged = True
                log.info("PostgreSQL at %s is reached through a connection pooler: no prepared statements, "
                         "no session settings (pgbouncer=auto)", self.location)
        if pooled:
            conn.prepare_threshold = None
            conn.cursor_factory = self._pooled_cursor
        else:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", [self._statement_timeout])

    def _pooled(self, conn: psycopg.Connection[Any]) -> bool:
        return conn.cursor_factory is self._pooled_cursor

    def _getconn(self) -> tuple[ConnectionPool, psycopg.Connection[Any]]:
        """A checked connection; StoreError when none comes within pool_timeout, or at once when a
        connection attempt made since this request began has failed and the pool has nothing to give."""
        start = time.monotonic()
        pool = self._ready_pool()
        deadline = start + self._pool_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return pool, pool.getconn(timeout=max(min(0.25, remaining), 0.01))
            except PoolTimeout:
                failed = self._connect_error
                recent = failed is not None and failed[0] >= start
                if recent or time.monotonic() >= deadline:
                    reason = f": {_one_line(failed[1])}" if failed else ""
                    raise StoreError(
                        f"PostgreSQL at {self.location} gave no connection within "
                        f"{time.monotonic() - start:.1f}s{reason}"
                    ) from None

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection (for work that cannot be retried as a function:
        the export's server-side cursor); database failures become StoreError."""
        pool, conn = self._getconn()
        try:
            with self._errors():
                if not self._migrated:
                    self._migrate(conn)
                with conn.transaction():
                    if self._pooled(conn):  # for the statements of this transaction that carry none (a named cursor's)
                        conn.execute(self._set_local_timeout)
                    yield conn
        finally:
            pool.putconn(conn)

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], transaction: bool = False,
             schema_work: bool = False) -> T:
        """`work(conn)` on a pooled connection, inside a transaction if asked (else each statement
        commits on its own: autocommit, one round trip). A connection found dead is discarded with
        the pool's other dead ones and the work runs once more on a fresh connection; database
        failures become StoreError (ValueError for a uniqueness conflict). The schema is brought up to
        date first, unless the work is about the schema itself (`schema_work`)."""
        for attempt in (1, 2):
            pool, conn = self._getconn()
            try:
                with self._errors(retry=attempt == 1 and self._dead(conn)):
                    if not (schema_work or self._migrated):
                        self._migrate(conn)
                    if not transaction:
                        return work(conn)
                    with conn.transaction():
                        return work(conn)
            except _Retry:
                pool.putconn(conn)
                conn = None  # type: ignore[assignment]
                pool.check()  # the server dropped this one: its idle siblings are likely dead too
                continue
            finally:
                if conn is not None:
                    pool.putconn(conn)
        raise AssertionError("unreachable")

    @staticmethod
    def _dead(conn: psycopg.Connection[Any]) -> Callable[[], bool]:
        return lambda: conn.broken or conn.closed

    @contextmanager
    def _errors(self, retry: Callable[[], bool] | bool = False) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.UniqueViolation as error:
            raise ValueError(f"already exists: {_one_line(error)}") from None
        except psycopg.errors.QueryCanceled as error:
            raise StoreError(
                f"PostgreSQL at {self.location}: statement timed out "
                f"(statement_timeout={self._statement_timeout}): {_one_line(error)}"
            ) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            if retry and (retry() if callable(retry) else True):
                log.info("PostgreSQL connection lost (%s); retrying on a new one", type(error).__name__)
                raise _Retry() from None
            raise StoreError(f"PostgreSQL at {self.location}: {type(error).__name__}: {_one_line(error)}") from None
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL at {self.location}: {type(error).__name__}: {_one_line(error)}") from None

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """Once per pool: migrate, or (auto_migrate off) refuse a schema older than this code."""
        if self._auto_migrate:
            applied = migrations.apply(conn)
            if applied:
                log.info("store schema migrated to version %s", applied[-1])
        else:
            version = migrations.current_version(conn)
            if migrations.behind(version):
                raise StoreError(
                    f"PostgreSQL at {self.location}: schema version {version}, this code needs "
                    f"{migrations.LATEST}; run scripts/store migrate (auto_migrate is off)"
                )
        self._migrated = True

    def migrate(self) -> list[int]:
        """Apply missing migrations now; returns the versions applied."""
        applied = self._run(migrations.apply, schema_work=True)
        self._migrated = True
        return applied

    def schema_version(self) -> int | None:
        """The schema's version as it is (None: never migrated); reading it migrates nothing."""
        return self._run(migrations.current_version, schema_work=True)

    def close(self) -> None:
        """Close the pool; the store opens a new one if used again."""
        with self._lock:
            pool, self._pool, self._migrated = self._pool, None, False
        if pool is not None and self._pid == os.getpid():
            pool.close()

    def _rows(self, query: Any, params: Any = ()) -> list[dict[str, Any]]:
        def work(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query, params)
                return cur.fetchall()

        return self._run(work)

    def _execute(self, query: Any, params: Any = ()) -> None:
        self._run(lambda conn: conn.execute(query, params))

    # Integrations ----------------------------------------------------------------------------
    def add_integration(self, integration: Integration) -> Integration:
        rows = self._rows(_ADD_INTEGRATION, _integration_values(integration))
        if not rows:
            raise ValueError(f"an integration named {integration.name!r} already exists")
        integration.id = rows[0]["id"]
        return integration

    def save_integration(self, integration: Integration) -> None:
        if integration.id is None:
            self.add_integration(integration)
            return
        self._execute(_SAVE_INTEGRATION, {**_integration_values(integration), "id": integration.id})

    def integration(self, integration_id: int) -> Integration | None:
        return _first(self._rows("SELECT * FROM integrations WHERE id = %s", [integration_id]), _integration)

    def integration_by_consumer_key(self, consumer_key: str) -> Integration | None:
        return _first(self._rows("SELECT * FROM integrations WHERE consumer_key = %s", [consumer_key]), _integration)

    def integration_by_access_token(self, access_token: str) -> Integration | None:
        # A rotated-out token stays findable during its grace period (Integration.credential_sets decides).
        return _first(self._rows("SELECT * FROM integrations WHERE access_token = %s OR previous->>'access_token' = %s",
                                 [access_token, access_token]), _integration)

    def integrations(self) -> list[Integration]:
        return [_integration(row) for row in self._rows("SELECT * FROM integrations ORDER BY id")]

    # Nonces ----------------------------------------------------------------------------------
    def admit(self, consumer_key: str, nonce: str | None, timestamp: int, expire_before: int,
              limit: RateLimit | None, now: float) -> Admission:
        # One statement decides, atomically (autocommit: one round trip). A new (consumer_key, nonce)
        # is inserted; a known one counts as unused only when it has expired (the purge may not have
        # run yet), and is then refreshed. A concurrent twin waits on the row lock and then finds the
        # row fresh: one winner. The bucket is touched only when the nonce was used (or there is none),
        # so a replayed nonce takes no token: refill by the time passed, take a token if one is there.
        bucket = {"key": consumer_key, "burst": float(limit.burst) if limit else 0.0, "now": now,
                  "rate": limit.per_minute / 60.0 if limit else 0.0, "limited": limit is not None}
        nonce_params = {"nonce": nonce, "timestamp": timestamp, "expire_before": expire_before}
        purge = False
        if nonce is not None:
            clock = time.monotonic()
            if clock >= self._next_purge:  # housekeeping, now and then: an index range scan
                self._next_purge, purge = clock + NONCE_PURGE_INTERVAL, True
        query = _ADMIT_NONCE if nonce is not None else _ADMIT_BEARER

        def work(conn: psycopg.Connection[Any]) -> Admission:
            used, taken = conn.execute(query, {**bucket, **nonce_params}).fetchone()
            if purge:
                conn.execute('DELETE FROM nonces WHERE "timestamp" < %s', [expire_before])
            if not used:
                return Admission.REPLAYED
            return Admission.ACCEPTED if taken or limit is None else Admission.RATE_LIMITED

        return self._run(work)

    # Customers -------------------------------------------------------------------------------
    def customer(self, customer_id: int) -> Customer | None:
        return _first(self._rows("SELECT * FROM customers WHERE id = %s", [customer_id]), _customer)

    def find_customer(self, website_id: int, email: str) -> Customer | None:
        return _first(self._rows(_FIND_CUSTOMER, [website_id, email_key(email)]), _customer)

    def find_or_create_customer(self, candidate: Customer) -> tuple[Customer, bool]:
        key = [candidate.website_id, candidate.email_key]

        def work(conn: psycopg.Connection[Any]) -> tuple[Customer, bool]:
            # Each statement commits on its own. Look first: most calls find an existing customer, and
            # an INSERT that does nothing would still spend an id. Then insert; if another process won
            # meanwhile (the unique index decides), read its row: it is committed, so visible.
            with conn.cursor(row_factory=dict_row) as cur:
                if row := cur.execute(_FIND_CUSTOMER, key).fetchone():
                    return _customer(row), False
                if row := cur.execute(_CREATE_CUSTOMER, _customer_values(candidate)).fetchone():
                    candidate.id = row["id"]
                    return candidate, True
                row = cur.execute(_FIND_CUSTOMER, key).fetchone()
                assert row is not None, "the conflicting customer is committed, so it is visible"
                return _customer(row), False

        return self._run(work)

    def save_customer(self, customer: Customer) -> None:
        if customer.id is None:
            self.import_customers([customer])
            return
        self._execute(_SAVE_CUSTOMER, _customer_values(customer))

    def customer_count(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM customers")[0]["n"])

    # Revocations -----------------------------------------------------------------------------
    def revoke_tokens(self, user_type: int, user_id: int, revoke_before: int) -> None:
        self._execute(
            """INSERT INTO revocations (user_type, user_id, revoke_before) VALUES (%s, %s, %s)
               ON CONFLICT (user_type, user_id) DO UPDATE SET revoke_before = EXCLUDED.revoke_before""",
            [user_type, user_id, revoke_before],
        )

    def revoked_before(self, user_type: int, user_id: int) -> int | None:
        rows = self._rows("SELECT revoke_before FROM revocations WHERE user_type = %s AND user_id = %s",
                          [user_type, user_id])
        return int(rows[0]["revoke_before"]) if rows else None

    # Bulk import and export ----------------------------------------------------------------
    def import_integrations(self, integrations: Iterable[Integration]) -> int:
        return self._import(_IMPORT_INTEGRATIONS, integrations, lambda i: {**_integration_values(i), "id": i.id})

    def import_customers(self, customers: Iterable[Customer]) -> int:
        return self._import(_IMPORT_CUSTOMERS, customers, _customer_values)

    def import_revocations(self, revocations: Iterable[Revocation]) -> int:
        return self._import(_IMPORT_REVOCATIONS, revocations, lambda r: Revocation(*r)._asdict())

    def _import(self, statements: _Import, items: Iterable[Any], values: Callable[[Any], dict[str, Any]]) -> int:
        """Batches of `executemany` (pipelined) in one transaction holding the table against other
        writers; then the identity sequence moves past the highest id, so new rows never collide."""
        count = 0
        returning = statements.advance is not None
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute(statements.lock)
            for batch in _batches(items, BATCH):
                cur.executemany(statements.insert, [values(item) for item in batch], returning=returning)
                if returning:
                    for item in batch:
                        item.id = cur.fetchone()[0]
                        cur.nextset()
                count += len(batch)
            if returning:
                cur.execute(statements.advance)
        return count

    def check(self) -> None:
        """Connects, and brings the schema up to date (or finds it behind, auto_migrate off)."""
        self._execute("SELECT 1")

    # Audit trail -----------------------------------------------------------------------------
    def append_audit(self, entry: dict[str, Any]) -> None:
        values = {column: entry.get(column) for column in AUDIT_COLUMNS}
        values["reason"] = values["reason"] or ""
        values["window_key"] = entry.get("window")
        self._execute(_APPEND_AUDIT, values)

    def audit_entries(self, limit: int = 100, integration_id: int | None = None) -> list[dict[str, Any]]:
        return self._rows(_AUDIT_ENTRIES[integration_id is not None], {"limit": limit, "integration": integration_id})

    def customers(self) -> Iterator[Customer]:
        """Streams by id through a server-side cursor (holds one connection while iterating)."""
        with self._transaction() as conn, conn.cursor(name="export_customers", row_factory=dict_row) as cur:
            cur.itersize = BATCH
            cur.execute("SELECT * FROM customers ORDER BY id")
            for row in cur:
                yield _customer(row)

    def revocations(self) -> Iterator[Revocation]:
        rows = self._rows("SELECT user_type, user_id, revoke_before FROM revocations ORDER BY user_type, user_id")
        return iter([Revocation(int(r["user_type"]), int(r["user_id"]), int(r["revoke_before"])) for r in rows])

    # Social login ------------------------------------------------------------------------------
    def account_link(self, issuer: str, subject: str) -> AccountLink | None:
        return _first(self._rows(_ACCOUNT_LINK, [issuer, subject]), _account_link)

    def link_account(self, link: AccountLink) -> tuple[AccountLink, bool]:
        def work(conn: psycopg.Connection[Any]) -> tuple[AccountLink, bool]:
            # As find_or_create_customer: insert unless linked (the primary key decides between
            # concurrent first sign-ins), else read the winner's link, committed and so visible.
            with conn.cursor(row_factory=dict_row) as cur:
                if cur.execute(_LINK_ACCOUNT, _link_values(link)).fetchone():
                    return link, True
                row = cur.execute(_ACCOUNT_LINK, [link.issuer, link.subject]).fetchone()
                assert row is not None, "the conflicting link is committed, so it is visible"
                return _account_link(row), False

        return self._run(work)

    def email_linked(self, email: str) -> bool:
        return bool(self._rows("SELECT 1 FROM account_links WHERE email_key = %s LIMIT 1", [email_key(email)]))

    def use_id_token(self, key: str, expires_at: int, now: int) -> bool:
        # One statement, as admit's nonce: a new key is inserted, a known one counts as unused only
        # once expired (and is then refreshed); a concurrent twin waits on the row lock, then finds it live.
        clock = time.monotonic()
        purge = clock >= self._next_id_token_purge
        if purge:
            self._next_id_token_purge = clock + NONCE_PURGE_INTERVAL

        def work(conn: psycopg.Connection[Any]) -> bool:
            used = conn.execute(_USE_ID_TOKEN, {"key": key, "expires_at": expires_at, "now": now}).fetchone()
            if purge:
                conn.execute("DELETE FROM id_token_uses WHERE expires_at < %s", [now])
            return used is not None

        return self._run(work)

    def import_account_links(self, links: Iterable[AccountLink]) -> int:
        return self._import(_IMPORT_ACCOUNT_LINKS, links, lambda link: _link_values(AccountLink(*link)))

    def account_links(self) -> Iterator[AccountLink]:
        return iter([_account_link(row) for row in self._rows(
            "SELECT * FROM account_links ORDER BY issuer COLLATE \"C\", subject COLLATE \"C\"")])


class _Retry(Exception):
    """The connection was found dead: run the work again on another one."""


def _pooled_cursor_class(set_local_timeout: sql.Composed) -> type[psycopg.ClientCursor[Any]]:
    """The cursor of a connection through a transaction pooler: each statement is sent after
    `set_local_timeout` in the same message (simple query protocol, so one implicit transaction, one
    round trip, no prepared statement), its values bound client-side; the cursor is left on the
    statement's result."""
    prefix = set_local_timeout + sql.SQL("; ")

    class PooledCursor(psycopg.ClientCursor):  # type: ignore[type-arg]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
            super().execute(prefix + (sql.SQL(query) if isinstance(query, str) else query), params, **kwargs)
            self.nextset()
            return self

    return PooledCursor


# Statements ----------------------------------------------------------------------------------
# Composed once, here: names come from code (the dataclasses' fields), quoted by `psycopg.sql`.

def _names(columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def _placeholders(columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Placeholder, columns))


def _upsert_by_id(table: str, columns: list[str]) -> sql.Composed:
    return sql.SQL("INSERT INTO {} (id, {}) VALUES (%(id)s, {}) ON CONFLICT (id) DO UPDATE SET ({}) = ROW({})").format(
        sql.Identifier(table), _names(columns), _placeholders(columns), _names(columns),
        sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns),
    )


def _insert_keeping_id(table: str, columns: list[str], then: str) -> sql.Composed:
    """An INSERT of one row that keeps the id it is given, or takes the table's next one."""
    return sql.SQL("INSERT INTO {} (id, {}) VALUES (COALESCE(%(id)s, nextval(pg_get_serial_sequence({}, 'id'))), {}) "
                   + then).format(sql.Identifier(table), _names(columns), sql.Literal(table), _placeholders(columns))


class _Import(NamedTuple):
    """One table's import: its lock, its INSERT, and (for a table with ids, whose INSERT returns
    them) the statement moving the id sequence past the ids imported."""

    lock: sql.Composed
    insert: sql.Composable
    advance: sql.Composed | None


def _import_statements(table: str, insert: sql.Composable, ids: bool = True) -> _Import:
    lock = sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(sql.Identifier(table))
    # Moves the sequence to max(id) when it is behind (never back: ids are not reused).
    advance = sql.SQL(
        "SELECT setval(pg_get_serial_sequence({table}, 'id'), m) FROM (SELECT max(id) AS m FROM {ident}) s "
        "WHERE m > COALESCE(pg_sequence_last_value(pg_get_serial_sequence({table}, 'id')::regclass), 0)"
    ).format(table=sql.Literal(table), ident=sql.Identifier(table)) if ids else None
    return _Import(lock, insert, advance)


_CUSTOMER_ROW = ["email_key", *CUSTOMER_COLUMNS]  # what `_customer_values` gives besides the id

_ADD_INTEGRATION = sql.SQL("INSERT INTO integrations ({}) VALUES ({}) ON CONFLICT (name) DO NOTHING RETURNING id"
                           ).format(_names(INTEGRATION_COLUMNS), _placeholders(INTEGRATION_COLUMNS))
_SAVE_INTEGRATION = _upsert_by_id("integrations", INTEGRATION_COLUMNS)
_FIND_CUSTOMER = "SELECT * FROM customers WHERE website_id = %s AND email_key = %s"
_CREATE_CUSTOMER = _insert_keeping_id("customers", _CUSTOMER_ROW,
                                      "ON CONFLICT (website_id, email_key) DO NOTHING RETURNING id")
_SAVE_CUSTOMER = _upsert_by_id("customers", _CUSTOMER_ROW)

_IMPORT_INTEGRATIONS = _import_statements(
    "integrations", _insert_keeping_id("integrations", INTEGRATION_COLUMNS, "RETURNING id"))
_IMPORT_CUSTOMERS = _import_statements("customers", _insert_keeping_id("customers", _CUSTOMER_ROW, "RETURNING id"))
_IMPORT_REVOCATIONS = _import_statements("revocations", sql.SQL(
    "INSERT INTO revocations (user_type, user_id, revoke_before) VALUES (%(user_type)s, %(user_id)s, %(revoke_before)s)"
), ids=False)

# An entry of a window already in the trail (the unique window_key; NULL for the others) is counted
# into that one, in the same statement.
_APPEND_AUDIT = sql.SQL(
    "INSERT INTO audit_log ({}) VALUES ({}) ON CONFLICT (window_key) "
    "DO UPDATE SET count = audit_log.count + 1, last_at = EXCLUDED.at").format(
    _names([*AUDIT_COLUMNS, "window_key"]), _placeholders([*AUDIT_COLUMNS, "window_key"]))
# audit_entries(), by whether it asks for one integration's entries
_AUDIT_ENTRIES = {
    one_integration: sql.SQL("SELECT {} FROM audit_log {} ORDER BY id DESC LIMIT %(limit)s").format(
        _names([*AUDIT_COLUMNS, "count", "last_at"]),
        sql.SQL("WHERE integration_id = %(integration)s" if one_integration else ""))
    for one_integration in (False, True)
}

# admit() as one statement. `used`: the nonce was inserted, or refreshed because it had expired.
# `taken`: a token was taken from the bucket (refilled by the time passed first), tried only when a
# limit is set and the nonce was used or there is none: the condition `{used}` each statement fills in.
_USE_NONCE = """used AS (
    INSERT INTO nonces (consumer_key, nonce, "timestamp") VALUES (%(key)s, %(nonce)s, %(timestamp)s)
    ON CONFLICT (consumer_key, nonce) DO UPDATE SET "timestamp" = EXCLUDED."timestamp"
    WHERE nonces."timestamp" < %(expire_before)s
    RETURNING 1
)"""
_TAKE_TOKEN = """taken AS (
    INSERT INTO rate_buckets AS b (key, tokens, updated)
    SELECT %(key)s, %(burst)s - 1, %(now)s WHERE %(limited)s AND {used}
    ON CONFLICT (key) DO UPDATE
    SET tokens = LEAST(%(burst)s, b.tokens + (%(now)s - b.updated) * %(rate)s) - 1, updated = %(now)s
    WHERE LEAST(%(burst)s, b.tokens + (%(now)s - b.updated) * %(rate)s) >= 1
    RETURNING 1
)"""


def _admit_statement(used: str, *before: str) -> str:
    """The CTEs `before`, then the bucket's; selects (used, taken)."""
    return f"WITH {', '.join([*before, _TAKE_TOKEN.format(used=used)])}\nSELECT {used}, EXISTS (SELECT 1 FROM taken)"


_ADMIT_NONCE = _admit_statement("EXISTS (SELECT 1 FROM used)", _USE_NONCE)
_ADMIT_BEARER = _admit_statement("true")  # a Bearer request has no nonce: only the bucket


LINK_COLUMNS = [*AccountLink._fields, "email_key"]
_ACCOUNT_LINK = "SELECT * FROM account_links WHERE issuer = %s AND subject = %s"
_LINK_ACCOUNT = sql.SQL("INSERT INTO account_links ({}) VALUES ({}) ON CONFLICT (issuer, subject) DO NOTHING "
                        "RETURNING 1").format(_names(LINK_COLUMNS), _placeholders(LINK_COLUMNS))
_IMPORT_ACCOUNT_LINKS = _import_statements("account_links", sql.SQL("INSERT INTO account_links ({}) VALUES ({})").format(
    _names(LINK_COLUMNS), _placeholders(LINK_COLUMNS)), ids=False)
_USE_ID_TOKEN = """INSERT INTO id_token_uses (key, expires_at) VALUES (%(key)s, %(expires_at)s)
    ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE id_token_uses.expires_at < %(now)s
    RETURNING 1"""


def _link_values(link: AccountLink) -> dict[str, Any]:
    return {**link._asdict(), "email_key": email_key(link.email)}


def _account_link(row: dict[str, Any]) -> AccountLink:
    return AccountLink(**{name: row[name] for name in AccountLink._fields})


def _customer_values(customer: Customer) -> dict[str, Any]:
    record = customer.to_record()
    record["custom_attributes"] = Json(record["custom_attributes"] or [])
    record["email_key"] = customer.email_key
    return record


def _integration_values(integration: Integration) -> dict[str, Any]:
    record = integration.to_record()
    record["resources"] = list(record["resources"])
    record["previous"] = Json(record["previous"]) if record["previous"] else None
    return record


def _customer(row: dict[str, Any]) -> Customer:
    return Customer.from_record(row)


def _integration(row: dict[str, Any]) -> Integration:
    return Integration.from_record(row)


def _first(rows: list[dict[str, Any]], convert: Any) -> Any:
    return convert(rows[0]) if rows else None


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
