"""The storage suite runs once per backend: `store_url` (and so `store`) is TinyDB, then PostgreSQL,
then PostgreSQL through PgBouncer in transaction mode."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS, THROUGH_PGBOUNCER, backend_url


@pytest.fixture(params=[*BACKENDS, THROUGH_PGBOUNCER])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request, tmp_path)
