"""Storage behind one small interface, chosen by one setting, `STORE_URL`.

`tinydb:///absolute/path/store.json` (the embedded default; its one parameter, `synchronous=normal`
or `full`, is described in tinydb_store.py) or `postgresql://...` / `postgres://...` (see
postgres_store.py for its parameters). A store is opened once per URL and kept for the life of
the warm action container; opening costs nothing, the first use connects.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigurationError
from . import postgres_url
from .base import AccountLink, Revocation, Store, StoreError

__all__ = ["AccountLink", "Revocation", "Store", "StoreError", "check_url", "open_store"]

TINYDB_PARAMS = ("synchronous",)


@lru_cache(maxsize=4)
def open_store(url: str) -> Store:
    if _backend(url) == "tinydb":
        from .tinydb_store import TinyDBStore

        try:
            return TinyDBStore(tinydb_path(url), **tinydb_params(url))
        except OSError as error:  # its folder cannot be made
            raise StoreError(f"cannot use the store's folder {error.filename}: {error.strerror or error}") from None
    try:
        from .postgres_store import PostgresStore  # imported here: TinyDB users need no psycopg
    except ImportError as error:
        raise ConfigurationError(f"setting STORE_URL names a PostgreSQL store, which needs psycopg ({error}): "
                                 "install the `postgres` extra (pip install -e '.[postgres]'; "
                                 "./scripts/emulate installs it itself)") from None
    return PostgresStore(url)


def check_url(url: str) -> str:
    """`url`, once its scheme names a backend and its parameters are ones the backend takes; else
    ConfigurationError (nothing is opened, and no driver is needed)."""
    if _backend(url) == "tinydb":
        tinydb_params(url)
    else:
        postgres_url.parse(url)
    return url


def _backend(url: str) -> str:
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # an unclosed [IPv6 address; the URL may hold a password: not repeated
        raise ConfigurationError("setting STORE_URL is not a URL") from None
    if scheme == "tinydb":
        return "tinydb"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if not url:
        raise ConfigurationError("setting STORE_URL is not set")
    raise ConfigurationError(f"setting STORE_URL has an unsupported scheme {scheme!r}: a store is "
                             "tinydb:///absolute/path/store.json or postgresql://user:password@host:port/database")


def tinydb_path(url: str) -> str:
    """`tinydb:///abs/path.json` -> `/abs/path.json`; `tinydb://relative/path.json` -> `relative/path.json`
    (the query, if any, is not part of the path)."""
    parts = urlsplit(url)
    return unquote(parts.netloc + parts.path)


def tinydb_params(url: str) -> dict[str, str]:
    """The query of a `tinydb:` URL as TinyDBStore's keyword arguments; a name it does not take, or one
    given twice, is a ConfigurationError (a misspelt `synchronous` must not quietly mean the default)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name not in TINYDB_PARAMS:
            raise ConfigurationError(f"setting STORE_URL has an unknown parameter {name!r}; a tinydb: store "
                                     f"takes {', '.join(TINYDB_PARAMS)}")
        if name in params:
            raise ConfigurationError(f"setting STORE_URL has the parameter {name!r} twice")
        params[name] = value
    return params
