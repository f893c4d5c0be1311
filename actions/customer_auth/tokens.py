"""Commerce customer tokens (Magento_JwtUserToken): compact JWS signed with a key derived from the crypt key.

A token minted here verifies on a Commerce install that shares the crypt key, and the reverse:
the header is `{"kid":"1","alg":...}` in that order, the claims `uid`, `utypid`, `iat`, `exp`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass

USER_TYPE_INTEGRATION = 1
USER_TYPE_ADMIN = 2
USER_TYPE_CUSTOMER = 3
USER_TYPE_GUEST = 4

KEY_ID = "1"
# Issuing is HMAC from the standard library (what PyJWT's HMACAlgorithm does); PyJWT, which imports
# `cryptography` (~40 ms), is imported only to read a token, so issue-token starts fast.
ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
DEFAULT_LIFETIME_MINUTES = 60
NON_POSITIVE_LIFETIME_MINUTES = 30  # Commerce's fallback when customer_expiration <= 0
_PADDED_LENGTH = 2048
_REQUIRED_CLAIMS = ("uid", "utypid", "iat", "exp")


class TokenError(Exception):
    """Why a token is not accepted; the client only sees `The current customer isn't authorized.`"""


def signing_key(crypt_key: str) -> str:
    """The HMAC secret Commerce derives: the newest crypt key, padded with '&' on both sides to 2048.

    PHP's str_pad(..., STR_PAD_BOTH) puts floor(n/2) pad characters on the left, the rest on the right.
    """
    keys = crypt_key.split()
    if not keys:
        raise ValueError("the crypt key is empty")
    key = keys[-1]
    missing = max(_PADDED_LENGTH - len(key), 0)
    left = missing // 2
    return "&" * left + key + "&" * (missing - left)


@dataclass(frozen=True)
class TokenPolicy:
    key: str  # the derived signing key, see signing_key()
    algorithm: str = "HS256"
    lifetime_minutes: int = DEFAULT_LIFETIME_MINUTES

    @property
    def lifetime_seconds(self) -> int:
        minutes = self.lifetime_minutes if self.lifetime_minutes > 0 else NON_POSITIVE_LIFETIME_MINUTES
        return minutes * 60


def issue(customer_id: int, policy: TokenPolicy, now: int) -> str:
    """A customer token; stateless, as in Commerce: nothing is stored when one is issued."""
    header = {"kid": KEY_ID, "alg": policy.algorithm}
    claims = {"uid": customer_id, "utypid": USER_TYPE_CUSTOMER, "iat": now, "exp": now + policy.lifetime_seconds}
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    signature = hmac.new(policy.key.encode("utf-8"), signing_input, ALGORITHMS[policy.algorithm]).digest()
    return f"{signing_input.decode()}.{urlsafe_b64encode(signature).rstrip(b'=').decode()}"


Revocation = Callable[[int], "int | None"]  # customer id -> revocation time


def read(token: str, policy: TokenPolicy, now: int, revoked_before: Revocation | None = None) -> int:
    """The customer id a valid, unrevoked customer token carries; TokenError otherwise.
    `revoked_before`: the lookup of a customer's revocation time, asked only once the token's
    signature and expiry have passed (a forged token costs no store read)."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != KEY_ID:
            raise TokenError(f"unknown key id {header.get('kid')!r}")
        claims = jwt.decode(
            token,
            policy.key,
            algorithms=[policy.algorithm],
            # Time is checked below against the injected clock.
            options={"require": list(_REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    if claims["utypid"] != USER_TYPE_CUSTOMER:
        raise TokenError(f"the token is for user type {claims['utypid']}, not a customer")
    if not isinstance(claims["uid"], int) or isinstance(claims["uid"], bool) or not isinstance(claims["iat"], int):
        raise TokenError("the token's uid and iat must be integers")
    if not isinstance(claims["exp"], int) or claims["exp"] <= now:
        raise TokenError("the token has expired")
    revoked = revoked_before(claims["uid"]) if revoked_before else None
    if revoked is not None and claims["iat"] <= revoked:
        raise TokenError(f"the token was revoked (iat {claims['iat']} <= {revoked})")
    return int(claims["uid"])


def _b64(value: dict) -> str:
    return urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()
