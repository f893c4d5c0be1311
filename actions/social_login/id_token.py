"""ID token validation, OpenID Connect Core 1.0 section 3.1.3.7, step by step, each with its refusal.

The header first: a JWS (never a JWE) whose `alg` is one of the provider's (fixed per provider, never
taken from the token: never `none`, never HMAC), signed by the provider's key with that `kid`. Then the
claims, one by one: `iss` exactly the provider's, `sub`, `aud` only the provider's client ids (and
`azp` one of them when `aud` has several), `exp`, `iat` and `nbf` within a small leeway, and the
nonce. What comes out is the token's header and claims, never the token itself: that is a bearer
credential, kept out of results and logs.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError, SecurityWarning
from joserfc.jws import deserialize_compact, extract_compact  # not joserfc.jwt: it imports all of JWE

from .cache import CachePolicy, DocumentCache
from .discovery import metadata
from .jwks import signing_key
from .providers import Provider, microsoft_tenant
from .refusals import (
    InvalidToken, NonceMismatch, NonceRequired, TenantNotAllowed, TokenExpired, TokenNotYetValid, WrongAudience,
    WrongAuthorizedParty, WrongIssuer,
)

MAX_TOKEN_LENGTH = 16_384
MAX_SUBJECT_LENGTH = 255  # Core 2: "It MUST NOT exceed 255 ASCII characters in length"


@dataclass(frozen=True)
class VerificationPolicy:
    leeway: int = 60  # seconds of clock difference allowed on exp, iat and nbf
    require_nonce: bool = False
    cache: CachePolicy = CachePolicy()


@dataclass(frozen=True)
class IdToken:
    """A verified ID token: its header and claims, and the canonical issuer its `iss` stands for."""

    header: dict[str, Any]
    claims: dict[str, Any]
    issuer: str
    payload_digest: str  # SHA-256 of the claims as signed: names the token without holding it

    @property
    def subject(self) -> str:
        return self.claims["sub"]

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])


def verify(token: Any, provider: Provider, nonce: str | None, policy: VerificationPolicy,
           documents: DocumentCache, now: int) -> IdToken:
    """The verified token, or the Refusal saying which step failed (its reason for the log)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(f"id_token is no string of 1 to {MAX_TOKEN_LENGTH} characters")
    if token.count(".") != 2:  # a JWE has five parts: an encrypted ID token is not taken
        raise InvalidToken("id_token is not a compact JWS (three dot-separated parts)")
    try:
        signed = extract_compact(token.encode("ascii"))
        header = signed.headers()
    except (JoseError, ValueError, UnicodeError) as error:
        raise InvalidToken(f"id_token header unreadable: {type(error).__name__}") from None
    found = metadata(provider, documents, policy.cache)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in found.algorithms:
        raise InvalidToken(f"alg {str(alg)[:20]!r} is not among {provider.name}'s {', '.join(found.algorithms)}")
    if kid is not None and not isinstance(kid, str):
        raise InvalidToken("kid is not a string")
    key = signing_key(found.jwks_uri, kid, alg, documents, policy.cache)
    try:
        with warnings.catch_warnings():  # joserfc warns of EdDSA (RFC 9864 names Ed25519): the provider chose it
            warnings.simplefilter("ignore", SecurityWarning)
            deserialize_compact(token, key, algorithms=[alg])
    except JoseError as error:
        raise InvalidToken(f"signature or structure refused: {error.error}") from None
    try:
        claims = json.loads(signed.payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise InvalidToken("the claims are not a JSON object")
    issuer = _issuer(claims, provider, found.issuers)
    _subject(claims)
    _audience(claims, provider)
    _times(claims, now, policy.leeway)
    _nonce(claims, nonce, policy.require_nonce)
    return IdToken(dict(header), claims, issuer, hashlib.sha256(signed.payload).hexdigest())


def _issuer(claims: dict[str, Any], provider: Provider, issuers: tuple[str, ...]) -> str:
    iss = claims.get("iss")
    if not isinstance(iss, str):
        raise InvalidToken("no iss claim")
    if provider.microsoft:
        tenant = microsoft_tenant(iss)
        if tenant is not None and iss not in issuers:
            raise TenantNotAllowed(f"tenant {tenant} is not among microsoft's tenants")
        if "tid" in claims and claims["tid"] != tenant:
            raise WrongIssuer(f"iss names tenant {tenant}, tid {str(claims['tid'])[:40]!r}")
    if iss not in issuers:
        raise WrongIssuer(f"iss {iss[:200]!r} is not {' or '.join(map(repr, issuers))}")
    return iss if provider.microsoft else issuers[0]


def _subject(claims: dict[str, Any]) -> None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH:
        raise InvalidToken(f"sub is not a string of 1 to {MAX_SUBJECT_LENGTH} characters")


def _audience(claims: dict[str, Any], provider: Provider) -> None:
    """Every audience must be one of the provider's client ids (Core 3.1.3.7 step 3 refuses audiences
    not trusted by the client), and with several, `azp` names one of them (step 4)."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) for a in audiences):
        raise InvalidToken("aud is not a string or a list of strings")
    strangers = [a for a in audiences if a not in provider.client_ids]
    if strangers:
        raise WrongAudience(f"aud names {', '.join(repr(a[:100]) for a in strangers[:3])}, not among "
                            f"{provider.name}'s client_ids")
    if len(audiences) > 1 and claims.get("azp") not in provider.client_ids:
        raise WrongAuthorizedParty(f"aud has {len(audiences)} values and azp "
                                   f"{str(claims.get('azp'))[:100]!r} is not among {provider.name}'s client_ids")


def _times(claims: dict[str, Any], now: int, leeway: int) -> None:
    exp, iat, nbf = (claims.get(name) for name in ("exp", "iat", "nbf"))
    if not _number(exp) or not _number(iat) or (nbf is not None and not _number(nbf)):
        raise InvalidToken("exp and iat must be numbers (and nbf, when present)")
    if now >= exp + leeway:
        raise TokenExpired(f"exp is {now - exp:.0f} s ago (leeway {leeway} s)")
    if iat > now + leeway:
        raise TokenNotYetValid(f"iat is {iat - now:.0f} s ahead (leeway {leeway} s)")
    if nbf is not None and nbf > now + leeway:
        raise TokenNotYetValid(f"nbf is {nbf - now:.0f} s ahead (leeway {leeway} s)")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _nonce(claims: dict[str, Any], nonce: str | None, required: bool) -> None:
    """The request's nonce equals the token's; a token with a nonce needs the request's, and a request
    that sent one needs a token that carries it (the provider ignored it otherwise)."""
    claimed = claims.get("nonce")
    if claimed is None and nonce is None:
        if required:
            raise NonceRequired("neither the token nor the request has a nonce (ID_TOKEN_REQUIRE_NONCE)")
        return
    if not isinstance(claimed, str) or not isinstance(nonce, str) or not hmac.compare_digest(
            claimed.encode("utf-8"), nonce.encode("utf-8")):
        which = "the request sent none" if nonce is None else "the token has none" if claimed is None else "they differ"
        raise NonceMismatch(f"nonce mismatch: {which}")

