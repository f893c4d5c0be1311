"""Integrations: the trusted callers (Admin > System > Integrations) that may exchange tokens.

An integration holds the four OAuth 1.0a credentials and the ACL resources it was granted.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .records import Record, now_iso

# The REST twin of the mutation (POST /V1/customers/{id}/token) needs this resource; which one the
# GraphQL mutation checks is unconfirmed in Commerce, so OAUTH_REQUIRED_RESOURCE can change it.
EXCHANGE_RESOURCE = "Magento_Customer::retrieve_tokens"

ACTIVE = "active"
INACTIVE = "inactive"

_ALPHABET = string.digits + string.ascii_lowercase
CREDENTIAL_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")  # what a caller signs with
CREDENTIAL_LENGTH = 32


def new_credential() -> str:
    """32 characters of [0-9a-z], as Commerce's OAuth helper generates them."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CREDENTIAL_LENGTH))


class Credentials(NamedTuple):
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass
class Integration(Record):
    name: str
    consumer_key: str = field(default_factory=new_credential)
    consumer_secret: str = field(default_factory=new_credential)
    access_token: str = field(default_factory=new_credential)
    access_token_secret: str = field(default_factory=new_credential)
    resources: list[str] = field(default_factory=lambda: [EXCHANGE_RESOURCE])
    status: str = ACTIVE
    token_revoked: bool = False
    created_at: str = field(default_factory=now_iso)
    # The credentials a rotation replaced, still accepted until `valid_until` (epoch seconds):
    # {"consumer_secret", "access_token", "access_token_secret", "valid_until"}
    previous: dict[str, Any] | None = None
    id: int | None = None

    @property
    def is_usable(self) -> bool:
        return self.status == ACTIVE and not self.token_revoked

    def credential_sets(self, now: int) -> list[Credentials]:
        """The secrets that authenticate now: the current ones, and the previous ones in their grace period."""
        sets = [Credentials(self.consumer_secret, self.access_token, self.access_token_secret)]
        if self.previous and now < int(self.previous["valid_until"]):
            sets.append(Credentials(self.previous["consumer_secret"], self.previous["access_token"],
                                    self.previous["access_token_secret"]))
        return sets

    def rotate(self, grace_seconds: int, now: int) -> bool:
        """New secrets and access token (the consumer key stays: it names the integration); the old ones
        keep working for `grace_seconds`, so callers can switch with no downtime. Revoked credentials
        (leaked, say) get no grace period: a rotation must never make them work again. One previous set
        is kept, so a rotation ends an earlier rotation's grace period; returns whether it did."""
        cut_short = bool(self.previous and now < int(self.previous["valid_until"]))
        if self.token_revoked or grace_seconds <= 0:
            self.previous = None
        else:
            self.previous = {
                "consumer_secret": self.consumer_secret,
                "access_token": self.access_token,
                "access_token_secret": self.access_token_secret,
                "valid_until": now + grace_seconds,
            }
        self.consumer_secret = new_credential()
        self.access_token = new_credential()
        self.access_token_secret = new_credential()
        self.token_revoked = False
        return cut_short

    def allows(self, resource: str) -> bool:
        """Granted `resource` (an empty one asks for nothing), directly or through Magento_Backend::all."""
        return not resource or resource in self.resources or "Magento_Backend::all" in self.resources

    def credentials(self) -> dict[str, Any]:
        """What `scripts/integration create --json` prints: the one time secrets are shown."""
        return {"id": self.id, "name": self.name, **{key: getattr(self, key) for key in CREDENTIAL_KEYS}}

    def summary(self) -> dict[str, Any]:
        """A listing without secrets: the consumer key is shown masked."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "token_revoked": self.token_revoked,
            "resources": list(self.resources),
            "consumer_key": mask(self.consumer_key),
            "created_at": self.created_at,
            "previous_valid_until": self.previous["valid_until"] if self.previous else None,
        }


def mask(credential: str) -> str:
    return credential[:4] + "…" + credential[-2:] if len(credential) > 8 else "…"
