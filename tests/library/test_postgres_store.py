"""PostgreSQL-only behaviour: migrations, pooling and reconnection, bounded waits, the schema's shape.

The storage rules every backend shares are in test_store.py, which runs on PostgreSQL too."""
from __future__ import annotations

import time
from dataclasses import fields
from urllib.parse import parse_qsl, urlsplit

import pytest

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import StoreError, migrations, open_store
from tests.conftest import race
from tests.library.test_store import customer, use_nonce

pytestmark = pytest.mark.postgres
psycopg = pytest.importorskip("psycopg")

from customer_auth.store.postgres_store import PostgresStore  # noqa: E402  (needs psycopg)


def schema_of(store: PostgresStore) -> str:
    """The test's schema (conftest names the sessions after it, too)."""
    return dict(parse_qsl(urlsplit(store._conninfo).query))["application_name"]


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


def test_first_use_connects_lazily_and_the_pool_is_reused(postgres_url):
    store = PostgresStore(postgres_url)
    assert store._pool is None  # creating a store costs nothing
    store.customer_count()
    pool = store._pool
    for _ in range(20):
        store.find_customer(1, "nobody@example.com")
    assert store._pool is pool and pool.get_stats()["connections_num"] <= 2
    store.close()


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


def test_password_never_in_the_error():
    store = open_store("postgresql://postgres:s3cret-pw@127.0.0.1:1/test")
    with pytest.raises(StoreError) as raised:
        store.customer(1)
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


@pytest.fixture(params=["postgresql"])
def store_url(request, postgres_url):  # this module's store is PostgreSQL only
    return postgres_url


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
