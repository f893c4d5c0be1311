"""The storage interface every backend implements.

Each method that decides something under concurrency (`admit`, `find_or_create_customer`) is
atomic in every backend: two processes asking at once get one winner.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any, NamedTuple, Protocol

from ..customers import Customer
from ..integrations import Integration


class RateLimit(NamedTuple):
    """A token bucket per integration: `per_minute` requests on average, `burst` at once."""

    per_minute: int
    burst: int


class Admission(Enum):
    ACCEPTED = "accepted"
    REPLAYED = "replayed"  # the (consumer, nonce) pair was used before
    RATE_LIMITED = "rate-limited"  # the integration's bucket is empty


class Revocation(NamedTuple):
    user_type: int
    user_id: int
    revoke_before: int


class AccountLink(NamedTuple):
    """Social login: a provider's subject, and the email (and names) its first sign-in was exchanged for.
    Later sign-ins of the subject open that account, whatever email the provider sends then."""

    issuer: str
    subject: str
    email: str
    firstname: str = ""
    lastname: str = ""
    linked_at: str = ""


class Store(Protocol):
    # Integrations
    def add_integration(self, integration: Integration) -> Integration: ...
    def save_integration(self, integration: Integration) -> None: ...
    def integration(self, integration_id: int) -> Integration | None: ...
    def integration_by_consumer_key(self, consumer_key: str) -> Integration | None: ...
    def integration_by_access_token(self, access_token: str) -> Integration | None: ...
    def integrations(self) -> list[Integration]: ...  # by id

    # One step per authenticated request: the nonce's one use (RFC 5849 section 3.3; atomic: of
    # concurrent twins, one wins; Bearer requests have none), then, only if it was used, a token from
    # the consumer's bucket (atomic too). A replayed nonce takes no token. Nonces whose timestamp is
    # older than `expire_before` are purged: they can no longer verify.
    def admit(self, consumer_key: str, nonce: str | None, timestamp: int, expire_before: int,
              limit: RateLimit | None, now: float) -> Admission: ...

    # Customers, unique per (website_id, lower(email))
    def customer(self, customer_id: int) -> Customer | None: ...
    def find_customer(self, website_id: int, email: str) -> Customer | None: ...
    def find_or_create_customer(self, candidate: Customer) -> tuple[Customer, bool]: ...
    def save_customer(self, customer: Customer) -> None: ...
    def customer_count(self) -> int: ...

    # Token revocations: tokens of (user_type, user_id) with iat <= revoke_before are refused
    def revoke_tokens(self, user_type: int, user_id: int, revoke_before: int) -> None: ...
    def revoked_before(self, user_type: int, user_id: int) -> int | None: ...

    # Bulk paths for seeding and `scripts/store copy`: each import is one transaction (one file write
    # on TinyDB) and keeps the ids it is given (a record without an id gets a new one). An id, name or
    # (website, email) already taken raises ValueError and imports nothing. Exports iterate by id.
    def import_integrations(self, integrations: Iterable[Integration]) -> int: ...
    def import_customers(self, customers: Iterable[Customer]) -> int: ...
    def import_revocations(self, revocations: Iterable[Revocation]) -> int: ...
    def customers(self) -> Iterator[Customer]: ...
    def revocations(self) -> Iterator[Revocation]: ...

    # The audit trail (see customer_auth.audit), read newest first; every entry read has a `count`
    # (1 unless counted into) and a `last_at` (None unless counted into). An entry with a `window`
    # is counted into the trail's entry of the same window when there is one (atomic: concurrent
    # twins make one entry): that entry's `count` grows by one and its `last_at` becomes this
    # one's `at`; nothing else of it changes.
    def append_audit(self, entry: dict[str, Any]) -> None: ...
    def audit_entries(self, limit: int = 100, integration_id: int | None = None) -> list[dict[str, Any]]: ...

    # At start (the emulator's): StoreError naming what cannot be used, so that nothing fails later
    # on it (a folder that cannot be written, a file that does not parse, a database that does not answer).
    def check(self) -> None: ...

    # Social login. Each subject's link to the account of its first sign-in, made once: of concurrent
    # first sign-ins one link is stored and every caller gets it (with whether it made it).
    # `email_linked`: whether any subject's link holds the email (compared as customers' are).
    def account_link(self, issuer: str, subject: str) -> AccountLink | None: ...
    def link_account(self, link: AccountLink) -> tuple[AccountLink, bool]: ...
    def email_linked(self, email: str) -> bool: ...
    # Each ID token's one use (named by `key`) until `expires_at`: True the first time, False while
    # the use lasts; atomic, as `admit`'s nonces. Uses that expired before `now` are purged.
    def use_id_token(self, key: str, expires_at: int, now: int) -> bool: ...
    def import_account_links(self, links: Iterable[AccountLink]) -> int: ...
    def account_links(self) -> Iterator[AccountLink]: ...  # by (issuer, subject)

    def close(self) -> None: ...


def take_token(bucket: dict[str, Any] | None, limit: RateLimit, now: float) -> tuple[bool, dict[str, Any]]:
    """The token bucket's rule, for stores that keep buckets as records: refill by the time passed,
    then take one token if there is one. Returns (taken, the bucket to store)."""
    tokens = float(limit.burst) if bucket is None else min(
        float(limit.burst), bucket["tokens"] + (now - bucket["updated"]) * limit.per_minute / 60.0)
    if tokens < 1:
        return False, {"tokens": tokens, "updated": now}
    return True, {"tokens": tokens - 1, "updated": now}


class StoreError(Exception):
    """The store could not be reached or read (its message says why, and never holds a password);
    the client sees `Internal server error`, the activation log the reason."""
