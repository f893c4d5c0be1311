"""PostgreSQL-only behaviour: migrations, pooling and reconnection, bounded waits, the schema's shape;
each test runs on PostgreSQL directly, then through PgBouncer in transaction mode (the pool smaller
than the clients), and the last ones are about PgBouncer itself.

The storage rules every backend shares are in test_store.py, which runs on PostgreSQL too."""
from __future__ import annotations

import time
from contextlib import closing
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import psycopg
import pytest

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import StoreError, migrations, open_store
from customer_auth.store.base import Admission, RateLimit
from customer_auth.store.postgres_store import PostgresStore
from tests.conftest import race, through_pgbouncer
from tests.library.test_store import customer, use_nonce

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["direct", pytest.param("pgbouncer", marks=pytest.mark.pgbouncer)])
def postgres_url(request: pytest.FixtureRequest, postgres_url: str) -> str:
    """The test's schema, directly, then through PgBouncer."""
    return through_pgbouncer(request, postgres_url) if request.param == "pgbouncer" else postgres_url


@pytest.fixture
def store_url(postgres_url: str) -> str:  # this module's store is PostgreSQL only
    return postgres_url


def schema_of(store: PostgresStore) -> str:
    """The test's schema (conftest names the sessions after it, too)."""
    return dict(parse_qsl(urlsplit(store._conninfo).query))["application_name"]


def with_password(url: str) -> tuple[str, str]:
    """`url` with a password (trust authentication asks for none, so it still connects), and the password."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    password = "s3cret-pw-in-the-url"
    netloc = f"{parts.username or ''}:{password}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc)), password


class Recording(psycopg.Connection):
    """A real connection that keeps what it is given to `execute` (every statement of migrations.py)."""

    statements: list[Any]

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(query)
        return super().execute(query, *args, **kwargs)


def _migrate(url: str, barrier) -> list[int]:
    barrier.wait()
    return PostgresStore(url).migrate()


def test_migrations_are_recorded_and_idempotent(postgres_url, postgres_admin):
    store = PostgresStore(postgres_url)
    assert store.schema_version() is None
    assert store.migrate() == [v for v, _, _ in migrations.MIGRATIONS]
    assert store.migrate() == []
    assert store.schema_version() == migrations.LATEST
    store.close()
    assert PostgresStore(postgres_url).migrate() == []  # a new container finds nothing to do


def test_concurrent_migrations_apply_once(postgres_url, processes=6):
    results = race(_migrate, (postgres_url,), processes)
    assert sorted(results) == [[]] * (processes - 1) + [[v for v, _, _ in migrations.MIGRATIONS]]


def test_apply_over_a_current_schema_is_one_statement(postgres_url):
    with Recording.connect(postgres_url, autocommit=True) as conn:
        conn.statements = []
        assert migrations.apply(conn) == [v for v, _, _ in migrations.MIGRATIONS]
        assert len(conn.statements) > 1  # the lock, the table of versions, the migrations...
        conn.statements = []
        assert migrations.apply(conn) == []
        assert len(conn.statements) == 1  # ...none of which a current schema needs


def test_a_new_pool_over_a_current_schema_neither_takes_nor_waits_for_the_migration_lock(postgres_url):
    # Another container is migrating: it holds the migration lock. A store over a schema behind waits for
    # it (here until its statement times out); a store over the current schema reads the version and goes on.
    url = postgres_url + "&statement_timeout=300"
    with (psycopg.connect(postgres_url, autocommit=True) as migrating,
          closing(PostgresStore(url)) as behind, closing(PostgresStore(url)) as current):
        with migrating.transaction():
            migrating.execute(migrations.LOCK, [migrations.LOCK_NAME])
            with pytest.raises(StoreError, match="timed out"):
                behind.customer_count()
        assert behind.migrate() == [v for v, _, _ in migrations.MIGRATIONS]
        with migrating.transaction():
            migrating.execute(migrations.LOCK, [migrations.LOCK_NAME])
            assert current.customer_count() == 0  # had it asked for the lock, it would have timed out


def test_schema_version_failure_is_a_store_error_without_the_password(postgres_url, postgres_admin):
    url, password = with_password(postgres_url + "&statement_timeout=300")
    with closing(PostgresStore(url)) as store:
        store.migrate()
        blocker = psycopg.connect(postgres_admin.info.dsn, autocommit=False)
        try:
            blocker.execute(f'LOCK TABLE "{schema_of(store)}".schema_migrations IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(StoreError, match="timed out") as raised:
                store.schema_version()
        finally:
            blocker.rollback()
            blocker.close()
        assert password not in str(raised.value)
        assert store.schema_version() == migrations.LATEST


def test_first_use_connects_lazily_and_the_pool_is_reused(postgres_url):
    store = PostgresStore(postgres_url)
    assert store._pool is None  # creating a store costs nothing
    store.customer_count()
    pool = store._pool
    for _ in range(20):
        store.find_customer(1, "nobody@example.com")
    assert store._pool is pool and pool.get_stats()["connections_num"] == 1
    assert pool.max_size == 1  # a container runs one activation at a time: one connection
    store.close()
    with closing(PostgresStore(postgres_url + "&pool_max_size=3")) as store:
        store.customer_count()
        assert store._pool.max_size == 3


def test_reconnects_after_its_connections_are_killed(store, postgres_admin):
    store.find_or_create_customer(customer("before@example.com"))
    killed = postgres_admin.execute(  # the store's own sessions: the URL names them after the schema
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
        [schema_of(store)],
    ).fetchone()[0]
    assert killed >= 1
    started = time.monotonic()
    assert store.find_customer(1, "before@example.com") is not None
    assert store.find_or_create_customer(customer("after@example.com"))[1]
    assert time.monotonic() - started < 5


def test_down_server_is_a_store_error_quickly():
    store = open_store("postgresql://postgres@127.0.0.1:1/test")
    started = time.monotonic()
    with pytest.raises(StoreError, match="127.0.0.1:1.*(refused|failed)"):
        store.customer(1)
    assert time.monotonic() - started < 3
    store.close()


@pytest.mark.parametrize("use", [lambda store: store.customer(1), PostgresStore.schema_version, PostgresStore.migrate],
                         ids=["customer", "schema_version", "migrate"])
def test_password_never_in_the_error(use):
    store = open_store("postgresql://postgres:s3cret-pw@127.0.0.1:1/test")
    with pytest.raises(StoreError) as raised:
        use(store)
    assert "s3cret-pw" not in str(raised.value)
    store.close()


def test_slow_statement_is_a_store_error(postgres_url, postgres_admin):
    url = postgres_url + "&statement_timeout=300"
    store = open_store(url)
    store.customer_count()  # migrated
    schema = schema_of(store)
    blocker = psycopg.connect(postgres_admin.info.dsn, autocommit=False)
    try:
        blocker.execute(f'LOCK TABLE "{schema}".customers IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        with pytest.raises(StoreError, match="timed out"):
            store.customer_count()
        assert time.monotonic() - started < 3
    finally:
        blocker.rollback()
        blocker.close()
    assert store.customer_count() == 0  # the pool's connection is fine afterwards
    store.close()


def test_auto_migrate_off_asks_for_scripts_store_migrate(postgres_url):
    store = open_store(postgres_url + "&auto_migrate=0")
    with pytest.raises(StoreError, match="scripts/store migrate"):
        store.customer_count()
    PostgresStore(postgres_url).migrate()
    assert store.customer_count() == 0
    store.close()


def test_expired_nonces_are_purged(store, postgres_admin):
    assert use_nonce(store, "k", "old", 1000, 0)
    store._next_purge = 0.0
    assert use_nonce(store, "k", "new", 5000, 2000)
    schema = schema_of(store)
    rows = postgres_admin.execute(f'SELECT nonce FROM "{schema}".nonces ORDER BY nonce').fetchall()
    assert rows == [("new",)]


def test_rate_buckets_in_both_admit_statements(store):
    # The rule, with a nonce and without (Bearer): refill by the time passed, take a token if there is
    # one; a nonce used while the bucket is empty stays used; a replay takes no token.
    limit = RateLimit(per_minute=60, burst=2)  # a token a second

    def admit(nonce: str | None, now: float, key: str = "ck") -> Admission:
        return store.admit(key, nonce, 1000, 0, limit, now)

    accepted, limited, replayed = Admission.ACCEPTED, Admission.RATE_LIMITED, Admission.REPLAYED
    assert [admit(None, 100.0), admit("n1", 100.0), admit(None, 100.0)] == [accepted, accepted, limited]
    assert [admit("n2", 100.5), admit(None, 101.0), admit("n3", 101.5)] == [limited, accepted, limited]
    assert admit(None, 101.5, key="other") is accepted  # a bucket per consumer
    assert store.admit("ck", None, 1000, 0, None, 101.5) is accepted  # no limit: no bucket
    assert [admit("n1", 200.0), admit("n2", 200.0), admit("n3", 200.0)] == [replayed] * 3
    assert [admit(None, 200.0), admit(None, 200.0), admit(None, 200.0)] == [accepted, accepted, limited]


def test_one_customer_per_email_key_enforced_by_the_database(store):
    store.find_or_create_customer(customer("Dup@example.com"))
    other = customer("dup@EXAMPLE.com")
    other.id = 99
    with pytest.raises(ValueError):
        store.save_customer(other)
    assert store.customer_count() == 1


def test_integration_names_unique(store):
    store.add_integration(Integration(name="a"))
    with pytest.raises(ValueError, match="already exists"):
        store.add_integration(Integration(name="a"))
    assert [i.id for i in store.integrations()] == [1]


def test_action_reports_internal_error_with_reason_in_log(actions, capsys):
    from tests.conftest import settings

    result = actions["upsert-customer"].main({
        "input": {"customer": {"firstname": "A", "lastname": "B", "email": "a@example.com"}},
        "store_code": "", "integration": {"id": 1, "name": "x"},
        **settings("postgresql://postgres@127.0.0.1:1/test"),
    })
    assert result["error"]["statusCode"] == 500
    assert "Internal server error" in str(result["error"]["body"])
    assert "Connection refused" in capsys.readouterr().out
    open_store("postgresql://postgres@127.0.0.1:1/test").close()


def test_every_field_has_a_column(store, postgres_admin):
    store.customer_count()
    schema = schema_of(store)
    columns = {
        table: {r[0] for r in postgres_admin.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            [schema, table]).fetchall()}
        for table in ("customers", "integrations")
    }
    assert {f.name for f in fields(Customer)} <= columns["customers"]
    assert {f.name for f in fields(Integration)} <= columns["integrations"]
