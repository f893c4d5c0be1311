"""The PostgreSQL store behind a real PgBouncer in transaction mode, with fewer server connections
than clients: what breaks a session-minded client there (prepared statements, session settings, the
pooler dropping its clients), and that the store is recognised as pooled without being told.

The rest of the PostgreSQL suite also runs through PgBouncer (test_store.py, test_postgres_store.py,
the crash and race tests of tests/security and tests/e2e)."""
from __future__ import annotations

import logging
import time
from contextlib import ExitStack, closing
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

from customer_auth.integrations import Integration
from customer_auth.store import open_store
from customer_auth.store.postgres_store import PostgresStore
from tests.conftest import CRYPT_KEY, PGBOUNCER_POOL_SIZE, run_sequence, signed_web_params, through_pgbouncer
from tests.library.test_store import customer

pytestmark = [pytest.mark.postgres, pytest.mark.pgbouncer]

CONTAINERS = 3  # more clients than PgBouncer's server connections (PGBOUNCER_POOL_SIZE)


@pytest.fixture
def bounced_url(request: pytest.FixtureRequest, postgres_url: str) -> str:
    return through_pgbouncer(request, postgres_url)


def container_url(url: str, i: int) -> str:
    """`url` for container `i`: a URL of its own, so a store (and a pool) of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), "application_name": f"container{i}"})))


def exchanges(url: str, rounds: int, actions, capsys) -> tuple[int, str]:
    """`rounds` exchanges in each of CONTAINERS containers (each with its store, as each warm
    container has), taking turns: (the exchanges that failed, what the actions logged)."""
    urls = [container_url(url, i) for i in range(CONTAINERS)]
    integration = open_store(urls[0]).add_integration(Integration(name="storefront"))
    failed = 0
    with ExitStack() as stack:
        for each in urls:
            stack.callback(open_store(each).close)
        for round_ in range(rounds):
            for each in urls:
                body = {"customer": {"email": f"c{round_ % 3}@example.com", "firstname": "F", "lastname": "L"}}
                result = run_sequence(signed_web_params(integration, body=body),
                                      {"STORE_URL": each, "CRYPT_KEY": CRYPT_KEY}, actions)
                failed += result.get("statusCode") != 200
    return failed, capsys.readouterr().out


@pytest.mark.parametrize("option", ["", "&pgbouncer=true"], ids=["auto", "told"])
def test_many_containers_exchange_through_few_server_connections(bounced_url, option, actions, capsys):
    failed, logged = exchanges(bounced_url + option, 8, actions, capsys)
    assert failed == 0, logged[-2000:]


def test_a_session_minded_client_fails_there(bounced_url, actions, capsys):
    """The failure the store avoids, reproduced by telling it no pooler is there: psycopg prepares a
    statement on its sixth run, under a name another client has prepared on the same server connection."""
    failed, logged = exchanges(bounced_url + "&pgbouncer=false", 8, actions, capsys)
    assert failed > 0 and "DuplicatePreparedStatement" in logged


def server_sessions(url: str) -> list[tuple[int, str, int]]:
    """(pid, statement_timeout, prepared statements) of each of PgBouncer's server connections for
    `url`, each seen from a transaction of a plain client (a transaction holds its server connection)."""
    with ExitStack() as stack:
        sessions = []
        for _ in range(PGBOUNCER_POOL_SIZE):
            conn = stack.enter_context(psycopg.connect(url, prepare_threshold=None))  # not autocommit: holds one
            sessions.append(conn.execute(
                "SELECT pg_backend_pid(), current_setting('statement_timeout'), count(*) FROM pg_prepared_statements"
            ).fetchone())
        return sessions


@pytest.mark.parametrize("option, rounds, leaves_state", [
    ("", 10, False),
    ("&pgbouncer=false", 4, True),  # the session's statement_timeout stays (fewer than 5 runs: nothing prepared)
], ids=["auto", "told-none"])
def test_nothing_of_the_store_stays_in_a_server_session(bounced_url, postgres_admin, option, rounds, leaves_state):
    default = postgres_admin.execute("SHOW statement_timeout").fetchone()[0]  # a session that set none
    stores = [PostgresStore(container_url(bounced_url + option, i)) for i in range(CONTAINERS)]
    with ExitStack() as stack:
        for store in stores:
            stack.callback(store.close)
        for i in range(rounds):
            for store in stores:
                store.find_or_create_customer(customer(f"c{i}@example.com"))
                store.revoked_before(3, i)
        sessions = server_sessions(bounced_url)
    assert len({pid for pid, _, _ in sessions}) == PGBOUNCER_POOL_SIZE  # every server connection seen
    leftovers = [session for session in sessions if session[1:] != (default, 0)]
    assert bool(leftovers) is leaves_state, sessions


def test_reconnects_after_pgbouncer_drops_its_clients(bounced_url, pgbouncer):
    database = urlsplit(bounced_url).path.lstrip("/")
    with closing(PostgresStore(bounced_url)) as store:
        store.find_or_create_customer(customer("before@example.com"))
        pgbouncer.command(f"KILL {database}")  # every client and server connection of it, closed
        pgbouncer.command(f"RESUME {database}")
        started = time.monotonic()
        assert store.find_customer(1, "before@example.com") is not None
        assert store.find_or_create_customer(customer("after@example.com"))[1]
        assert time.monotonic() - started < 5


def test_a_pooler_is_recognised_on_connecting(postgres_url, bounced_url, caplog):
    caplog.set_level(logging.INFO, "customer_auth.store")
    with closing(PostgresStore(postgres_url)) as direct:
        direct.customer_count()
    assert "connection pooler" not in caplog.text
    with closing(PostgresStore(bounced_url)) as pooled:
        pooled.customer_count()
    assert "reached through a connection pooler" in caplog.text
