"""A PostgreSQL STORE_URL, read without psycopg, so that the emulator and scripts/deploy can refuse a
bad one before anything starts (the settings check), and the store connects with what is left.

URL: `postgresql://user:password@host:port/dbname?param=value...`. Any libpq parameter may be given
(`sslmode`, `options`, `application_name`...); these are the store's own, removed before connecting:
  statement_timeout  default 5000 (ms, or PostgreSQL units such as `5s`)
  pool_timeout       default 5    (seconds to wait for a pooled connection)
  pool_max_size      default 1    (connections per container; OpenWhisk runs one activation at a time)
  auto_migrate       default 1
  pgbouncer          default auto (true: a transaction-mode pooler is in between; false: none; auto:
                     recognised on connecting, see postgres_store.py)
and these libpq defaults are added when absent: connect_timeout=5, keepalives_idle=10,
keepalives_interval=5, keepalives_count=3.

An error never repeats the URL: in a malformed one the password may sit where a parser (ours, or
libpq's) would print it as a host, a port, a path or a bad percent-escape.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from .. import values
from ..errors import ConfigurationError

STORE_PARAMS = {"statement_timeout": "5000", "pool_timeout": "5", "pool_max_size": "1", "auto_migrate": "1",
                "pgbouncer": "auto"}
LIBPQ_DEFAULTS = {"connect_timeout": "5", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}
MALFORMED_URL = ("setting STORE_URL: the PostgreSQL store URL is malformed: write "
                 "postgresql://user:password@host:port/database, with any @ : / ? # % in the user or password "
                 "percent-encoded")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DURATION = re.compile(r"\d+\s*(ms|s|min|h|d)?")


@dataclass(frozen=True)
class PostgresOptions:
    conninfo: str  # the URL libpq connects with: the store's own parameters out, its defaults in
    location: str  # host:port/dbname, for messages (no user, no password)
    statement_timeout: str
    pool_timeout: float
    pool_max_size: int
    auto_migrate: bool
    pgbouncer: bool | None  # None: recognised on connecting


def parse(url: str) -> PostgresOptions:
    """The store's options in `url`; ConfigurationError naming the parameter that cannot work (a
    statement_timeout PostgreSQL rejects would fail every connection for the whole pool_timeout)."""
    parts = _checked(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {**STORE_PARAMS, **{k: v for k, v in query if k in STORE_PARAMS}}
    libpq = [(k, v) for k, v in query if k not in STORE_PARAMS]
    libpq += [(k, v) for k, v in LIBPQ_DEFAULTS.items() if k not in dict(libpq)]
    try:
        pool_timeout, pool_max_size = float(own["pool_timeout"]), int(own["pool_max_size"])
    except ValueError as error:
        raise _bad(str(error)) from None
    if not pool_timeout > 0 or pool_max_size < 1:
        raise _bad("pool_timeout must be above 0 seconds and pool_max_size at least 1")
    if not _DURATION.fullmatch(own["statement_timeout"]):
        raise _bad(f"statement_timeout={own['statement_timeout']!r} is no duration (milliseconds, or e.g. 5s, 1min)")
    try:
        auto_migrate = values.flag(own["auto_migrate"] or STORE_PARAMS["auto_migrate"])
    except ValueError:
        raise _bad(f"auto_migrate={own['auto_migrate']!r} (1/true/yes/on or 0/false/no/off)") from None
    try:
        pgbouncer = None if own["pgbouncer"].strip().lower() in ("auto", "") else values.flag(own["pgbouncer"])
    except ValueError:
        raise _bad(f"pgbouncer={own['pgbouncer']!r} (auto, 1/true/yes/on or 0/false/no/off)") from None
    return PostgresOptions(
        conninfo=urlunsplit(parts._replace(query=urlencode(libpq))),
        location=f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}",
        statement_timeout=own["statement_timeout"], pool_timeout=pool_timeout, pool_max_size=pool_max_size,
        auto_migrate=auto_migrate, pgbouncer=pgbouncer,
    )


def _checked(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:  # also an unclosed [IPv6 address
        raise ConfigurationError(MALFORMED_URL) from None
    if parts.netloc.count("@") > 1 or parts.fragment or "@" in parts.path or _BAD_ESCAPE.search(parts.netloc) or (
            parts.path and not parts.path.startswith("/")):
        raise ConfigurationError(MALFORMED_URL)
    return parts


def _bad(problem: str) -> ConfigurationError:
    return ConfigurationError(f"setting STORE_URL has a bad PostgreSQL store parameter: {problem}")
