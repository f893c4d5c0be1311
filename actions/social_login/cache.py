"""The provider's documents (discovery, JWKS), fetched over HTTP and kept per warm container.

A document is fresh for as long as its `Cache-Control: max-age` says (less its `Age`), within
`CachePolicy`'s bounds: a provider that sends none, or `no-cache`, is asked again after the minimum; one
that asks for a year, after the maximum. Fetches of one URL are at least `refetch_seconds` apart, so a
stream of tokens naming unknown keys cannot make us hammer the provider. While the provider cannot be
reached, the last document is served `stale_seconds` past its freshness (RFC 5861's stale-if-error).
Only the standard library is used, so the action's zip needs nothing more.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from customer_auth import client_json
from customer_auth.errors import ConfigurationError

from .providers import secure_url
from .refusals import ProviderUnavailable

log = logging.getLogger("customer_auth.social_login")

FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.I)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.I)

T = TypeVar("T")


@dataclass(frozen=True)
class CachePolicy:
    min_seconds: int = 300
    max_seconds: int = 86_400
    refetch_seconds: int = 60  # the least time between two fetches of one URL
    stale_seconds: int = 21_600  # how long past its freshness a document serves while its provider is down

    def lifetime(self, max_age: int | None) -> int:
        return min(max(max_age or 0, self.min_seconds), self.max_seconds)


@dataclass(frozen=True)
class Fetched:
    document: dict[str, Any]
    max_age: int | None  # from Cache-Control and Age; None when the provider says nothing


Fetch = Callable[[str], Fetched]


class _Entry(Generic[T]):
    """A URL's last parsed document (None until one was fetched) and when it was fetched and tried."""

    __slots__ = ("value", "fresh_until", "fetched_at", "tried_at")

    def __init__(self, value: T | None, fresh_until: float, fetched_at: float) -> None:
        self.value, self.fresh_until, self.fetched_at, self.tried_at = value, fresh_until, fetched_at, fetched_at


class DocumentCache:
    """URL -> the parsed document. One per warm container (the actions keep one at module level);
    `fetch` and `clock` are injected so that tests control the provider and the time."""

    def __init__(self, fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch or get_json
        self._clock = clock
        self._entries: dict[str, _Entry[Any]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, parse: Callable[[dict[str, Any]], T], policy: CachePolicy, refresh: bool = False) -> T:
        """The document at `url` as `parse` makes it: the cached one while fresh, else fetched.
        `refresh`: fetch now if the last try is `refetch_seconds` old (a token named a key the
        cached set lacks). ProviderUnavailable when nothing usable can be had."""
        with self._lock:  # one fetch at a time per container; an action runs one activation at a time
            now = self._clock()
            entry = self._entries.get(url)
            if entry is not None and entry.value is not None and now < entry.fresh_until and not refresh:
                return entry.value
            if entry is not None and now - entry.tried_at < policy.refetch_seconds:
                return self._usable(url, entry, now, policy, "tried less than refetch_seconds ago")
            try:
                fetched = self._fetch(url)
                value = parse(fetched.document)
            except ProviderUnavailable as error:
                if entry is None:
                    entry = self._entries[url] = _Entry(None, float("-inf"), float("-inf"))
                entry.tried_at = now
                if entry.value is not None:
                    log.warning("%s; keeping the copy fetched %.0f s ago", error.reason, now - entry.fetched_at)
                return self._usable(url, entry, now, policy, error.reason)
            self._entries[url] = _Entry(value, now + policy.lifetime(fetched.max_age), now)
            return value

    @staticmethod
    def _usable(url: str, entry: _Entry[T], now: float, policy: CachePolicy, why: str) -> T:
        """The kept document while fresh, or stale within `stale_seconds`; else ProviderUnavailable."""
        if entry.value is not None and now < entry.fresh_until + policy.stale_seconds:
            return entry.value
        kept = "no copy is kept" if entry.value is None else f"the copy is stale past {policy.stale_seconds} s"
        raise ProviderUnavailable(f"{url} not fetched ({why}), and {kept}",
                                  headers={"Retry-After": str(max(policy.refetch_seconds, 1))})


def get_json(url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> Fetched:
    """GET `url` as JSON: a JSON object, answered 200 within `timeout`, redirected only to https (or to
    loopback http); ProviderUnavailable saying why not."""
    import urllib.error  # imported on first use: urllib.request costs ~25 ms to import
    import urllib.request

    class SecureRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            try:
                secure_url(newurl, f"{url} redirected")
            except ConfigurationError as error:
                raise ProviderUnavailable(error.reason) from None
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(SecureRedirects)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
            headers = response.headers
    except urllib.error.HTTPError as error:
        error.close()
        raise ProviderUnavailable(f"{url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ProviderUnavailable(f"{url} cannot be fetched: {reason}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = client_json.loads(body.decode("utf-8"))  # strictly, as a client's: bounded nesting
    except ValueError:
        raise ProviderUnavailable(f"{url} answered something other than JSON") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} answered JSON that is not an object")
    return Fetched(document, max_age(headers))


def max_age(headers: Mapping[str, str]) -> int | None:
    """Seconds the response stays fresh: Cache-Control's max-age less Age (0 for no-cache / no-store);
    None when Cache-Control says neither."""
    control = headers.get("Cache-Control") or ""
    if _NO_CACHE.search(control):
        return 0
    match = _MAX_AGE.search(control)
    if not match:
        return None
    try:
        age = int(headers.get("Age") or 0)
    except ValueError:
        age = 0
    return max(int(match.group(1)) - max(age, 0), 0)
