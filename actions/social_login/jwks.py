"""JSON Web Key Sets (RFC 7517): the provider's public keys, and the one that signed a token.

A key is taken only if it is a public key for signatures (`use` absent or "sig"; RSA, EC or OKP, never
a symmetric "oct" key), fits the token's algorithm (its type and curve, and its own `alg` when it
names one) and carries the token's `kid`. A token without a `kid` is accepted only when one key fits
(OpenID Connect Core 10.1). A `kid` the cached set lacks makes one fetch of the set, within the
cache's floor between fetches: the provider may have rotated its keys.
"""
from __future__ import annotations

import logging
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key

from .cache import CachePolicy, DocumentCache
from .refusals import InvalidToken, ProviderUnavailable

log = logging.getLogger("customer_auth.social_login")

# The key each algorithm needs: its type, and for EC and OKP the curves (RFC 7518 3.4, RFC 8037 3.1, RFC 9864)
KEY_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{alg: ("RSA", ()) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", ("P-256",)), "ES384": ("EC", ("P-384",)), "ES512": ("EC", ("P-521",)),
    "EdDSA": ("OKP", ("Ed25519", "Ed448")), "Ed25519": ("OKP", ("Ed25519",)), "Ed448": ("OKP", ("Ed448",)),
}


def signing_key(jwks_uri: str, kid: str | None, alg: str, documents: DocumentCache, policy: CachePolicy) -> Key:
    """The key of `jwks_uri`'s set that signed a token with this header, or InvalidToken."""
    key = _find(documents.get(jwks_uri, parse_key_set, policy), kid, alg)
    if key is None and kid is not None:  # rotated since the set was fetched? one fetch, if not too soon
        key = _find(documents.get(jwks_uri, parse_key_set, policy, refresh=True), kid, alg)
    if key is None:
        raise InvalidToken(f"no key of {jwks_uri} fits the token "
                           f"({f'kid {kid[:64]!r}' if kid is not None else 'no kid'}, alg {alg})")
    return key


def parse_key_set(document: dict[str, Any]) -> list[Key]:
    """The usable public signing keys of a JWKS document; keys it cannot use are skipped (RFC 7517
    section 5: a set may hold keys of types we do not know)."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ProviderUnavailable("the JWKS document has no \"keys\" list")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "oth")}
        try:
            keys.append(import_key(public))
        except (JoseError, ValueError, TypeError) as error:
            log.warning("JWKS key %r skipped: %s", str(entry.get("kid"))[:64], error)
    if not keys:
        raise ProviderUnavailable("the JWKS document holds no usable public signing key")
    return keys


def _find(keys: list[Key], kid: str | None, alg: str) -> Key | None:
    key_type, curves = KEY_TYPES[alg]
    fitting = [key for key in keys
               if key.key_type == key_type and (not curves or key.get("crv") in curves)
               and key.get("alg") in (None, alg) and (kid is None or key.get("kid") == kid)]
    return fitting[0] if len(fitting) == 1 or (fitting and kid is not None) else None
