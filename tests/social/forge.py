"""Signing keys and ID tokens made by the tests: a provider's key set (the private half for forging, the
public half as its JWKS), and tokens with whatever header and claims a test needs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from typing import Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

ISSUER = "https://id.example.com"
CLIENT_ID = "storefront-web"


class KeySet:
    """Private keys by kid; `jwks()` is what the provider publishes."""

    def __init__(self, *keys: Key) -> None:
        self.keys = {key.kid: key for key in keys}

    @classmethod
    def generate(cls, *kinds: str, prefix: str = "key") -> KeySet:
        """One key per kind: "RSA", "EC" (P-256), "OKP" (Ed25519); kids `<prefix>-<n>`."""
        makers = {"RSA": lambda p: RSAKey.generate_key(2048, parameters=p),
                  "EC": lambda p: ECKey.generate_key("P-256", parameters=p),
                  "OKP": lambda p: OKPKey.generate_key("Ed25519", parameters=p)}
        return cls(*(makers[kind]({"kid": f"{prefix}-{n}", "use": "sig"}) for n, kind in enumerate(kinds or ("RSA",))))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys.values()]}

    def private_jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=True) for key in self.keys.values()]}

    @property
    def first(self) -> Key:
        return next(iter(self.keys.values()))


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid ID token's claims for ISSUER / CLIENT_ID, issued now; `name=None` drops a claim."""
    now = int(time.time())
    values = {"iss": ISSUER, "sub": "subject-1", "aud": CLIENT_ID, "exp": now + 600, "iat": now,
              "email": "ada@example.com", "email_verified": True, "given_name": "Ada", "family_name": "Lovelace",
              "nonce": "n-0S6_WzA2Mj"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def sign(claims: dict[str, Any], key: Key, alg: str | None = None, **header: Any) -> str:
    """A compact JWS of `claims` signed by `key` (kid from the key unless the header says otherwise)."""
    alg = alg or {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}[key.key_type]
    head = {"alg": alg, "kid": key.kid, **header}
    head = {k: v for k, v in head.items() if v is not None}
    with warnings.catch_warnings():  # joserfc warns of EdDSA (RFC 9864 names Ed25519); providers still use it
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(head, claims, key, algorithms=[alg])


def unsigned(claims: dict[str, Any], **header: Any) -> str:
    """`alg: none`: a header and claims with an empty signature."""
    return f"{_b64(json.dumps({'alg': 'none', **header}))}.{_b64(json.dumps(claims))}."


def hmac_with_public_key(claims: dict[str, Any], key: Key, kid: str) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the provider's public key as published."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': kid}))}.{_b64(json.dumps(claims))}"
    secret = json.dumps(key.as_dict(private=False)).encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
