"""Storage behind one small interface, chosen by one setting, `STORE_URL`.

`tinydb:///absolute/path/store.json` (the embedded default) or `postgresql://...`. A store is opened
once per URL and kept for the life of the warm action container.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError
from .base import Store, StoreError

__all__ = ["Store", "StoreError", "open_store"]


@lru_cache(maxsize=4)
def open_store(url: str) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "tinydb":
        from .tinydb_store import TinyDBStore

        return TinyDBStore(tinydb_path(url))
    if not url:
        raise ConfigurationError("setting STORE_URL is not set")
    raise ConfigurationError(f"setting STORE_URL has an unsupported scheme {scheme!r}")


def tinydb_path(url: str) -> str:
    """`tinydb:///abs/path.json` -> `/abs/path.json`; `tinydb://relative/path.json` -> `relative/path.json`."""
    parts = urlsplit(url)
    return unquote(parts.netloc + parts.path)
