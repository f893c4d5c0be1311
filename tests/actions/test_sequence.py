"""The seed's example through the three actions, composed as the manifest's web sequence composes them."""
from __future__ import annotations

import base64
import json

from tests.conftest import CRYPT_KEY, SEED_CUSTOMER, run_sequence, signed_web_params


def segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_seed_example_then_same_uid_again(actions, store_url, integration):
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY}
    first = run_sequence(signed_web_params(integration), env, actions)
    assert first["statusCode"] == 200
    customer = first["body"]["customer"]
    assert {k: customer[k] for k in SEED_CUSTOMER} == SEED_CUSTOMER
    assert segment(first["body"]["token"], 0) == {"kid": "1", "alg": "HS256"}
    uid = segment(first["body"]["token"], 1)["uid"]

    again = run_sequence(signed_web_params(integration), env, actions)
    assert segment(again["body"]["token"], 1)["uid"] == uid


def test_sequence_stops_at_the_first_error(actions, store_url, integration):
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY}
    params = signed_web_params(integration, body={"customer": {**SEED_CUSTOMER, "email": "nope"}})
    result = run_sequence(params, env, actions)
    assert result["error"]["body"]["errors"][0]["message"] == '"Email" is not a valid email address.'


def test_manifest_settings_reach_the_actions(actions, store_url, integration):
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY, "JWT_ALG": "HS512", "CUSTOMER_TOKEN_LIFETIME": "5"}
    token = run_sequence(signed_web_params(integration), env, actions)["body"]["token"]
    claims = segment(token, 1)
    assert segment(token, 0)["alg"] == "HS512" and claims["exp"] - claims["iat"] == 300


def test_a_caller_cannot_shadow_settings_through_the_payload(actions, store_url, integration):
    """The raw web sequence passes only verify-oauth's own result on: a caller's extra top-level
    parameters never reach upsert-customer or issue-token."""
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY}
    params = signed_web_params(integration)
    result = run_sequence({**params, "JWT_ALG": "none", "CRYPT_KEY": "attacker"}, env, actions)
    # verify-oauth got them (the first component sees the request), but what it passes on is its own
    assert result["statusCode"] == 200
    assert segment(result["body"]["token"], 0)["alg"] == "HS256"
