"""Storage behind one small interface, chosen by one setting, `STORE_URL`.

`tinydb:///absolute/path/store.json` (the embedded default) or `postgresql://...` / `postgres://...`
(see postgres_store.py for its parameters). A store is opened once per URL and kept for the life of
the warm action container; opening costs nothing, the first use connects.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError
from .base import Revocation, Store, StoreError

__all__ = ["Revocation", "Store", "StoreError", "open_store"]


@lru_cache(maxsize=4)
def open_store(url: str) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "tinydb":
        from .tinydb_store import TinyDBStore

        return TinyDBStore(tinydb_path(url))
    if scheme in ("postgresql", "postgres"):
        from .postgres_store import PostgresStore  # imported here: TinyDB users need no psycopg

        return PostgresStore(url)
    if not url:
        raise ConfigurationError("setting STORE_URL is not set")
    raise ConfigurationError(f"setting STORE_URL has an unsupported scheme {scheme!r}")


def tinydb_path(url: str) -> str:
    """`tinydb:///abs/path.json` -> `/abs/path.json`; `tinydb://relative/path.json` -> `relative/path.json`."""
    parts = urlsplit(url)
    return unquote(parts.netloc + parts.path)
