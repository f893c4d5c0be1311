"""issue-token: a Commerce-compatible customer JWT and the web answer of the sequence."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from customer_auth import tokens
from tests.conftest import CRYPT_KEY, settings

CUSTOMER = {"id": 6, "email": "roni_cost@example.com", "firstname": "Roni", "lastname": "Cost",
            "is_subscribed": False, "group_id": 1, "created_at": "2026-11-21 10:00:00"}


def segments(token: str) -> tuple[bytes, dict, dict]:
    header, claims, _ = token.split(".")
    decode = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
    return decode(header), json.loads(decode(header)), json.loads(decode(claims))


def test_answer_shape_and_token_claims(actions, store_url):
    before = int(time.time())
    result = actions["issue-token"].main({"customer": CUSTOMER, **settings(store_url)})
    assert result["statusCode"] == 200 and result["headers"] == {"Content-Type": "application/json"}
    body = result["body"]
    assert set(body) == {"customer", "token"}
    assert {k: body["customer"][k] for k in ("email", "firstname", "lastname", "is_subscribed")} == {
        "email": "roni_cost@example.com", "firstname": "Roni", "lastname": "Cost", "is_subscribed": False}
    raw_header, header, claims = segments(body["token"])
    assert raw_header == b'{"kid":"1","alg":"HS256"}'
    assert list(claims) == ["uid", "utypid", "iat", "exp"]
    assert claims["uid"] == 6 and claims["utypid"] == 3
    assert before <= claims["iat"] <= int(time.time()) and claims["exp"] - claims["iat"] == 3600


def test_signature_uses_commerce_key_derivation(actions, store_url):
    """Recomputed independently: HMAC-SHA256 with the crypt key padded with '&' to 2048 on both sides."""
    token = actions["issue-token"].main({"customer": CUSTOMER, **settings(store_url)})["body"]["token"]
    signing_input, _, signature = token.rpartition(".")
    key = ("&" * 1008 + CRYPT_KEY + "&" * 1008).encode()
    expected = base64.urlsafe_b64encode(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert signature.encode() == expected


def test_last_crypt_key_signs():
    assert tokens.signing_key("old-key\nnewkey").strip("&") == "newkey"
    assert len(tokens.signing_key("x" * 33)) == 2048 and tokens.signing_key("x" * 33).startswith("&" * 1007 + "x")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms(actions, store_url, algorithm):
    token = actions["issue-token"].main({"customer": CUSTOMER, **settings(store_url, JWT_ALG=algorithm)})["body"]["token"]
    assert segments(token)[1] == {"kid": "1", "alg": algorithm}


@pytest.mark.parametrize("minutes,seconds", [("15", 900), ("0", 1800), ("-5", 1800)])
def test_lifetime(actions, store_url, minutes, seconds):
    token = actions["issue-token"].main(
        {"customer": CUSTOMER, **settings(store_url, CUSTOMER_TOKEN_LIFETIME=minutes)})["body"]["token"]
    claims = segments(token)[2]
    assert claims["exp"] - claims["iat"] == seconds


@pytest.mark.parametrize("overrides,reason", [
    ({"JWT_ALG": "RS256"}, "JWT_ALG must be one of"),
    ({"CRYPT_KEY": ""}, "CRYPT_KEY is not set"),
])
def test_misconfiguration_is_internal_and_logged_without_secrets(actions, store_url, capsys, overrides, reason):
    result = actions["issue-token"].main({"customer": CUSTOMER, **settings(store_url, **overrides)})
    assert result["error"]["body"]["errors"][0]["message"] == "Internal server error"
    log = capsys.readouterr().out
    assert reason in log and CRYPT_KEY not in log


def test_log_level_follows_each_activation(actions, store_url, capsys):
    """A warm container keeps its logger: each activation's LOG_LEVEL still decides what is logged."""
    issue = actions["issue-token"].main
    for level, shown in [("warning", False), ("info", True), ("error", False), ("", True), ("loud", True)]:
        issue({"customer": CUSTOMER, **settings(store_url, LOG_LEVEL=level)})
        assert ("customer token issued for customer 6" in capsys.readouterr().out) is shown, level


def test_no_token_leaves_without_its_audit_entry(actions, tmp_path, capsys):
    """The audit trail records every token issued: when the entry cannot be written (here the trail's
    file is a folder), the exchange answers Internal server error and no token."""
    (tmp_path / "store.audit.jsonl").mkdir()
    result = actions["issue-token"].main({"customer": CUSTOMER, **settings(f"tinydb://{tmp_path}/store.json")})
    assert result["error"]["body"]["errors"][0]["message"] == "Internal server error"
    assert "token" not in json.dumps(result) and "eyJ" not in json.dumps(result)
    log = capsys.readouterr().out
    assert "audit trail not written" in log and "customer token issued" not in log


def test_no_issued_entry_for_an_answer_that_failed(actions, store_url, store, capsys):
    """A customer record the answer cannot be made of (invoked directly, without the sequence's
    upsert-customer) is an internal error, and neither the trail nor the log says a token was issued."""
    result = actions["issue-token"].main({"customer": {"id": 6}, **settings(store_url)})
    assert result["error"]["body"]["errors"][0]["message"] == "Internal server error"
    assert [e for e in store.audit_entries() if e.get("customer_id") == 6] == []
    assert "customer token issued" not in capsys.readouterr().out
