"""The storage suite runs once per backend: `store_url` (and so `store`) is TinyDB, then PostgreSQL.

PostgreSQL: STORE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). Each test
gets a schema of its own, named in the URL's `options=-csearch_path=...`, dropped afterwards. When
the server cannot be reached those tests are skipped with the reason, unless
STORE_TEST_POSTGRES_REQUIRED=1 (CI sets it), which makes them fail.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from customer_auth.store import open_store

POSTGRES_URL = os.environ.get("STORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("STORE_TEST_POSTGRES_REQUIRED") == "1"


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL for the store tests is unavailable ({reason}); set STORE_TEST_POSTGRES_URL"
    if POSTGRES_REQUIRED:
        pytest.fail(message + " (STORE_TEST_POSTGRES_REQUIRED=1)", pytrace=False)
    pytest.skip(message)


def with_search_path(url: str, schema: str) -> str:
    """`url` whose sessions use `schema` (added to any `options` the URL already has), and are named
    after it."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = f"{query.get('options', '')} -csearch_path={schema}".strip()
    query["application_name"] = schema  # so a test can find (and kill) the store's own sessions
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    """An autocommit connection to the test database, for making and dropping schemas."""
    try:
        import psycopg
    except ImportError as error:
        _unavailable(f"psycopg is not installed: {error}")
    try:
        conn = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        _unavailable(" ".join(str(error).split()))
    yield conn
    conn.close()


@pytest.fixture
def postgres_url(postgres_admin: Any) -> Iterator[str]:
    """A store URL on a fresh, empty schema of the test database."""
    from psycopg import sql

    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = with_search_path(POSTGRES_URL, schema)
    yield url
    open_store(url).close()  # the cached store's pool, if the test used it
    postgres_admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["tinydb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "tinydb":
        return f"tinydb://{tmp_path}/store.json"
    return request.getfixturevalue("postgres_url")
