"""schema.graphql is checked here, once, rather than at every cold start of an action (load_schema)."""
from __future__ import annotations

from graphql import build_schema, print_schema, validate_schema

from customer_auth.graphql import load_schema
from customer_auth.graphql.facade import SCHEMA_PATH


def test_the_shipped_sdl_is_valid_and_builds_the_schema_served() -> None:
    checked = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))  # raises on an SDL rule broken
    assert validate_schema(checked) == []
    served = load_schema()
    assert validate_schema(served) == []
    assert print_schema(served) == print_schema(checked)
