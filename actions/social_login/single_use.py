"""Each ID token accepted once until it expires: a bearer token replayed, by whoever copied it, opens no
second session.

A token is named by its issuer and `jti` when it has one, else by the SHA-256 of its claims as signed
(not of the token's text: base64url lets one signature be written several ways, and the signature of
an EC key differs each time it signs the same claims, but only the provider can sign other claims).
The use is kept until the token expires (with the leeway it was accepted in), atomically in the store:
of concurrent sign-ins with one token, exactly one passes.
"""
from __future__ import annotations

import hashlib

from customer_auth.store import Store

from .id_token import IdToken
from .refusals import TokenAlreadyUsed


def name(token: IdToken) -> str:
    jti = token.claims.get("jti")
    if isinstance(jti, str) and jti:
        return "jti:" + hashlib.sha256(f"{token.issuer}\n{jti}".encode()).hexdigest()
    return "claims:" + token.payload_digest


def use_once(store: Store, token: IdToken, leeway: int, now: int) -> None:
    if not store.use_id_token(name(token), token.expires_at + leeway, now):
        raise TokenAlreadyUsed(f"ID token of {token.issuer} subject {token.subject[:64]!r} used before "
                               f"(named {name(token)[:16]}…)")
