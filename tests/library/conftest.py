"""The storage suite runs once per backend: `store_url` (and so `store`) is TinyDB, then PostgreSQL."""
from __future__ import annotations

import pytest


@pytest.fixture
def store_url(any_store_url: str) -> str:
    return any_store_url
