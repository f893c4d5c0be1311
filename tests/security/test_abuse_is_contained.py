"""Claim 8, abuse is contained: a rate limit per integration, an audit trail of every exchange, and
credential rotation with a grace period; on both storage backends."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from customer_auth.integrations import Integration
from customer_auth.store import open_store
from tests.conftest import ROOT, SEED_CUSTOMER, run_sequence, settings, signed_web_params

TOO_MANY = "Too many requests from this integration. Try again later."


@pytest.fixture
def store(any_store_url):
    return open_store(any_store_url)


@pytest.fixture
def integration(store):
    return store.add_integration(Integration(name="storefront"))


def verify(actions, any_store_url, params, **overrides):
    return actions["verify-oauth"].main({**params, **settings(any_store_url, **overrides)})


# Rate limit ------------------------------------------------------------------------------------------
def test_token_bucket_per_integration(actions, any_store_url, store, integration, capsys):
    limits = {"RATE_LIMIT_PER_MINUTE": "60", "RATE_LIMIT_BURST": "3"}
    answers = [verify(actions, any_store_url, signed_web_params(integration), **limits) for _ in range(4)]
    assert ["error" in a for a in answers] == [False, False, False, True]
    limited = answers[-1]["error"]
    assert limited["statusCode"] == 429 and limited["headers"]["Retry-After"] == "1"  # a request a second
    assert limited["body"]["errors"] == [{"message": TOO_MANY, "extensions": {"category": "graphql-authorization"}}]
    assert f"integration {integration.id} is over its rate limit (60/min, burst 3)" in capsys.readouterr().out
    other = store.add_integration(Integration(name="other"))  # buckets are per integration
    assert "error" not in verify(actions, any_store_url, signed_web_params(other), **limits)
    time.sleep(1.1)  # 60 a minute: one token a second
    assert "error" not in verify(actions, any_store_url, signed_web_params(integration), **limits)
    slow = {"RATE_LIMIT_PER_MINUTE": "7", "RATE_LIMIT_BURST": "1"}  # a request every 8.6 s: retry after 9
    third = store.add_integration(Integration(name="third"))
    answers = [verify(actions, any_store_url, signed_web_params(third), **slow) for _ in range(2)]
    assert "error" not in answers[0] and answers[1]["error"]["headers"]["Retry-After"] == "9"


def test_rate_limit_off_and_bad_settings(actions, any_store_url, integration):
    for _ in range(5):
        assert "error" not in verify(actions, any_store_url, signed_web_params(integration),
                                     RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_BURST="1")
    bad = verify(actions, any_store_url, signed_web_params(integration), RATE_LIMIT_BURST="0")
    assert bad["error"]["body"]["errors"][0]["message"] == "Internal server error"


def test_a_replayed_nonce_takes_no_token(actions, any_store_url, integration):
    limits = {"RATE_LIMIT_PER_MINUTE": "1", "RATE_LIMIT_BURST": "2"}
    params = signed_web_params(integration)
    assert "error" not in verify(actions, any_store_url, params, **limits)
    replay = verify(actions, any_store_url, params, **limits)
    assert replay["error"]["statusCode"] == 401
    assert "error" not in verify(actions, any_store_url, signed_web_params(integration), **limits)


# Audit trail ------------------------------------------------------------------------------------------
def test_every_exchange_is_audited(actions, any_store_url, store, integration):
    env = {"STORE_URL": any_store_url, "CRYPT_KEY": settings(any_store_url)["CRYPT_KEY"]}
    token = run_sequence(signed_web_params(integration, extra_headers={"store": "default"}), env, actions)[
        "body"]["token"]
    run_sequence(signed_web_params(integration), env, actions)
    run_sequence(signed_web_params(integration, body={"customer": {**SEED_CUSTOMER, "email": "bad"}}), env, actions)
    stranger = Integration(name="stranger")
    run_sequence(signed_web_params(stranger), env, actions)
    forged = Integration(**{**integration.to_record(), "consumer_secret": "f" * 32})
    run_sequence(signed_web_params(forged), env, actions)

    entries = store.audit_entries(10)
    assert [e["outcome"] for e in entries] == ["denied", "denied", "invalid", "issued", "issued"]
    issued_again, issued = entries[3], entries[4]
    assert (issued["integration_id"], issued["integration_name"], issued["store_code"]) == (
        integration.id, "storefront", "default")
    assert (issued["customer_id"], issued["created"], issued_again["created"]) == (1, True, False)
    assert entries[0]["integration_id"] == integration.id and "signature is invalid" in entries[0]["reason"]
    assert entries[1]["integration_id"] is None  # an unknown consumer names no integration
    assert [e["outcome"] for e in store.audit_entries(10, integration_id=integration.id)] == [
        "denied", "invalid", "issued", "issued"]
    trail = json.dumps(entries)
    for secret in (integration.consumer_secret, integration.access_token, integration.access_token_secret, token):
        assert secret not in trail


def test_scripts_audit_reads_the_trail(actions, tmp_path):
    url = f"tinydb://{tmp_path}/audited.json"
    store = open_store(url)
    first = store.add_integration(Integration(name="cli"))
    run_sequence(signed_web_params(first), {"STORE_URL": url, "CRYPT_KEY": "k" * 32}, actions)
    listed = subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", url, "--json"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert [json.loads(line)["outcome"] for line in listed] == ["issued"]
    text = subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", url], capture_output=True, text=True,
                          check=True).stdout
    assert "issued" in text and "1:cli" in text and "customer 1 (created)" in text
    other = store.add_integration(Integration(name="web"))  # a second integration's entry, to filter out
    run_sequence(signed_web_params(other, {"customer": {**SEED_CUSTOMER, "email": "other@example.com"}}),
                 {"STORE_URL": url, "CRYPT_KEY": "k" * 32}, actions)

    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "scripts" / "audit"), "--store-url", url, *args],
                              capture_output=True, text=True)

    by_name = audit("--integration", "cli").stdout
    assert by_name == text  # only cli's entry: the web one is left out
    by_id = audit("--integration", str(other.id)).stdout
    assert f"{other.id}:web" in by_id and "1:cli" not in by_id
    gone = audit("--integration", "99")  # an id no longer in the store may still name entries: none here
    assert gone.returncode == 0 and gone.stdout == ""
    unknown = audit("--integration", "nope")
    assert unknown.returncode == 1 and unknown.stderr == "error: no integration with id or name 'nope'\n"


# Rotation ---------------------------------------------------------------------------------------------
def test_rotation_keeps_old_credentials_during_the_grace_period(actions, any_store_url, store, integration):
    old = Integration(**integration.to_record())
    integration.rotate(grace_seconds=300, now=int(time.time()))
    store.save_integration(integration)
    assert integration.consumer_key == old.consumer_key and integration.access_token != old.access_token
    assert "error" not in verify(actions, any_store_url, signed_web_params(old))
    assert "error" not in verify(actions, any_store_url, signed_web_params(integration))
    bearer = signed_web_params(old)
    bearer["__ow_headers"]["authorization"] = f"Bearer {old.access_token}"
    assert "error" not in verify(actions, any_store_url, bearer, OAUTH_BEARER_ENABLED="true")


def test_rotation_without_grace_refuses_old_credentials(actions, any_store_url, store, integration, capsys):
    old = Integration(**integration.to_record())
    integration.rotate(grace_seconds=0, now=int(time.time()))
    store.save_integration(integration)
    refused = verify(actions, any_store_url, signed_web_params(old))
    assert refused["error"]["statusCode"] == 401
    assert "grace period after a rotation has ended" in capsys.readouterr().out
    mixed = Integration(**{**integration.to_record(), "access_token": old.access_token,
                           "access_token_secret": old.access_token_secret})
    assert verify(actions, any_store_url, signed_web_params(mixed))["error"]["statusCode"] == 401


def test_rotating_a_revoked_integration_gives_the_revoked_credentials_no_grace(actions, any_store_url, store,
                                                                            integration):
    """Revoked credentials (leaked, say) stay refused through a rotation: only the new ones work."""
    old = Integration(**integration.to_record())
    integration.token_revoked = True
    store.save_integration(integration)
    integration.rotate(grace_seconds=3600, now=int(time.time()))
    store.save_integration(integration)
    assert verify(actions, any_store_url, signed_web_params(old))["error"]["statusCode"] == 401
    assert "error" not in verify(actions, any_store_url, signed_web_params(integration))


def test_a_second_rotation_ends_the_first_ones_grace_period(actions, any_store_url, store, integration):
    """One previous set is kept: rotating again says it cut the earlier grace period short."""
    first = Integration(**integration.to_record())
    assert integration.rotate(grace_seconds=300, now=int(time.time())) is False
    second = Integration(**integration.to_record())
    assert integration.rotate(grace_seconds=300, now=int(time.time())) is True
    store.save_integration(integration)
    assert verify(actions, any_store_url, signed_web_params(first))["error"]["statusCode"] == 401
    assert "error" not in verify(actions, any_store_url, signed_web_params(second))
    assert "error" not in verify(actions, any_store_url, signed_web_params(integration))


def test_scripts_integration_rotate(tmp_path):
    url = f"tinydb://{tmp_path}/rotate.json"
    script = str(ROOT / "scripts" / "integration")
    created = json.loads(subprocess.run([script, "--store-url", url, "create", "--name", "r", "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    rotated = json.loads(subprocess.run([script, "--store-url", url, "rotate", "r", "--grace-minutes", "5", "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    assert rotated["consumer_key"] == created["consumer_key"]
    assert rotated["access_token"] != created["access_token"]
    stored = open_store(url).integration(created["id"])
    assert stored.previous["access_token"] == created["access_token"]
    assert 290 <= stored.previous["valid_until"] - time.time() <= 300
    again = subprocess.run([script, "--store-url", url, "rotate", "r"], capture_output=True, text=True, check=True)
    assert "the credentials of the earlier rotation, still in their grace period, stop working now" in again.stderr
