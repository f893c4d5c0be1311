"""Reading customer tokens: every forgery Commerce refuses is refused here."""
from __future__ import annotations

import base64
import json

import jwt
import pytest
from customer_auth import tokens

NOW = 1_800_000_000
POLICY = tokens.TokenPolicy(key=tokens.signing_key("0123456789abcdef0123456789abcdef"))


def b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip():
    assert tokens.read(tokens.issue(42, POLICY, NOW), POLICY, NOW + 10) == 42


def forged_tokens() -> dict[str, str]:
    good = tokens.issue(42, POLICY, NOW)
    claims = {"uid": 42, "utypid": 3, "iat": NOW, "exp": NOW + 3600}
    key = POLICY.key
    return {
        "alg none": f"{b64({'kid': '1', 'alg': 'none'})}.{b64(claims)}.",
        "algorithm switched": jwt.encode(claims, key, algorithm="HS512", headers={"kid": "1"}),
        "wrong key": jwt.encode(claims, "another key" * 10, algorithm="HS256", headers={"kid": "1"}),
        "unknown kid": jwt.encode(claims, key, algorithm="HS256", headers={"kid": "2"}),
        "missing claim": jwt.encode({k: v for k, v in claims.items() if k != "utypid"}, key, algorithm="HS256",
                                    headers={"kid": "1"}),
        "wrong utypid": jwt.encode({**claims, "utypid": 1}, key, algorithm="HS256", headers={"kid": "1"}),
        "string uid": jwt.encode({**claims, "uid": "42"}, key, algorithm="HS256", headers={"kid": "1"}),
        "malformed": "not.a.token",
        "tampered claims": good.split(".")[0] + "." + b64({**claims, "uid": 1}) + "." + good.split(".")[2],
    }


@pytest.mark.parametrize("name", list(forged_tokens()))
def test_forged_tokens_are_refused(name):
    with pytest.raises(tokens.TokenError):
        tokens.read(forged_tokens()[name], POLICY, NOW + 10)


def test_expired():
    token = tokens.issue(42, POLICY, NOW)
    assert tokens.read(token, POLICY, NOW + 3599) == 42
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.read(token, POLICY, NOW + 3600)


def test_revoked_when_issued_up_to_the_revocation_second():
    token = tokens.issue(42, POLICY, NOW)
    with pytest.raises(tokens.TokenError, match="revoked"):
        tokens.read(token, POLICY, NOW + 1, revoked_before={42: NOW}.get)
    assert tokens.read(token, POLICY, NOW + 1, revoked_before={42: NOW - 1}.get) == 42
    assert tokens.read(token, POLICY, NOW + 1, revoked_before={}.get) == 42  # never revoked


def test_revocation_is_looked_up_only_for_a_valid_token():
    """A forged or expired token costs no store read."""
    def no_lookup(customer_id: int) -> None:
        pytest.fail(f"looked up the revocation of customer {customer_id}")

    refused = [(forged, NOW + 10) for forged in forged_tokens().values()] + [(tokens.issue(42, POLICY, NOW), NOW + 3600)]
    for token, now in refused:
        with pytest.raises(tokens.TokenError):
            tokens.read(token, POLICY, now, revoked_before=no_lookup)
