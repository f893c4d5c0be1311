"""Claim 5, no forged customer token: each is refused with `The current customer isn't authorized.`
by the `customer` query and by `revokeCustomerToken`, through the emulator's GraphQL endpoint."""
from __future__ import annotations

import pytest

from customer_auth import tokens
from customer_auth.customers import Customer
from tests.conftest import CRYPT_KEY
from tests.library.test_tokens import b64

NOT_AUTHORIZED = {"message": "The current customer isn't authorized.", "extensions": {"category": "graphql-authorization"}}
POLICY = tokens.TokenPolicy(key=tokens.signing_key(CRYPT_KEY))


def forgeries(now: int) -> dict[str, str]:
    import jwt

    claims = {"uid": 1, "utypid": 3, "iat": now, "exp": now + 3600}
    key = POLICY.key
    good = tokens.issue(1, POLICY, now)
    return {
        "alg none": f"{b64({'kid': '1', 'alg': 'none'})}.{b64(claims)}.",
        "algorithm switched": jwt.encode(claims, key, algorithm="HS512", headers={"kid": "1"}),
        "wrong key": jwt.encode(claims, "another key" * 10, algorithm="HS256", headers={"kid": "1"}),
        "unknown kid": jwt.encode(claims, key, algorithm="HS256", headers={"kid": "7"}),
        "expired": tokens.issue(1, POLICY, now - 7200),
        "missing claims": jwt.encode({"uid": 1, "iat": now}, key, algorithm="HS256", headers={"kid": "1"}),
        "wrong utypid": jwt.encode({**claims, "utypid": 1}, key, algorithm="HS256", headers={"kid": "1"}),
        "malformed": "eyJhbGciOi.not-a-token",
        "tampered uid": good.split(".")[0] + "." + b64({**claims, "uid": 2}) + "." + good.split(".")[2],
    }


@pytest.fixture
def client(emulator):
    app, _, store = emulator
    store.find_or_create_customer(Customer(email="a@example.com", firstname="A", lastname="B", website_id=1, store_id=1))
    return app.test_client()


def ask(client, token: str, query: str) -> dict:
    return client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}).get_json()


@pytest.mark.parametrize("name", list(forgeries(0)))
def test_forged_tokens_are_refused(client, name):
    import time

    token = forgeries(int(time.time()))[name]
    for query in ("{ customer { email } }", "mutation { revokeCustomerToken { result } }"):
        answer = ask(client, token, query)
        assert [{k: e[k] for k in ("message", "extensions")} for e in answer["errors"]] == [NOT_AUTHORIZED]


def test_revoked_token_is_refused(client):
    import time

    token = tokens.issue(1, POLICY, int(time.time()) - 1)
    assert ask(client, token, "{ customer { email } }") == {"data": {"customer": {"email": "a@example.com"}}}
    assert ask(client, token, "mutation { revokeCustomerToken { result } }")["data"] == {
        "revokeCustomerToken": {"result": True}}
    answer = ask(client, token, "{ customer { email } }")
    assert {k: answer["errors"][0][k] for k in ("message", "extensions")} == NOT_AUTHORIZED
