"""Every refusal of a sign-in, with its HTTP status and code, through the emulator's sign-in web sequence
on both storage backends. The tokens are forged with the real provider's own signing key (or another),
so only the claim or header under test is wrong; the provider's discovery document and JWKS are its own.
A refusal never carries a token."""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
import requests

from social_login.cache import DocumentCache, Fetched
from tests.conftest import load_action, token_customer_id
from tests.social.conftest import SIGN_IN, running_emulator
from tests.social.forge import KeySet, claims, hmac_with_public_key, sign, unsigned
from tests.social.openid_provider import CLIENT_ID

NONCE = "n-0S6_WzA2Mj"
IOS_CLIENT = "storefront-ios"


@pytest.fixture(scope="module")
def sign_in_emulator(module_store_url, openid_provider):
    """This module's emulator: the provider knows two client ids (web and iOS), for `azp`."""
    with running_emulator(module_store_url, warm=True,
             ID_PROVIDERS=openid_provider.settings(client_ids=[CLIENT_ID, IOS_CLIENT])) as running:
        yield running


def token(provider, keys: KeySet, key=None, alg: str | None = None, header: dict | None = None, **overrides) -> str:
    """An ID token of `provider` for a new subject, signed with its key unless told otherwise."""
    values = claims(**{"iss": provider.issuer, "aud": CLIENT_ID, "sub": f"subject-{uuid.uuid4().hex}", **overrides})
    return sign(values, key or keys.first, alg, **(header or {}))


def refusal(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert "token" not in body and "eyJ" not in answer.text
    return body["errors"][0]


def send(emulator, id_token: str, nonce: str | None = NONCE, **extra: Any) -> requests.Response:
    body = {"provider": "local", "id_token": id_token, **({"nonce": nonce} if nonce is not None else {}), **extra}
    return emulator.sign_in(body)


# The ID token (item 3) ------------------------------------------------------------------------------

TOKEN_REFUSALS = {
    "signed by another key": lambda p, k: token(p, k, key=KeySet.generate("RSA").first, header={"kid": k.first.kid}),
    "alg none": lambda p, k: unsigned(claims(iss=p.issuer, aud=CLIENT_ID), kid=k.first.kid),
    "HS256 keyed with the public key": lambda p, k: hmac_with_public_key(claims(iss=p.issuer, aud=CLIENT_ID),
                                                                         k.first, k.first.kid),
    "a kid the provider never published": lambda p, k: token(p, k, header={"kid": "forged-kid"}),
    "an algorithm the provider does not sign with": lambda p, k: token(p, k, alg="RS512"),
    "not a JWT": lambda p, k: "not.a.jwt",
    "no sub": lambda p, k: token(p, k, sub=None),
}


@pytest.mark.parametrize("case", TOKEN_REFUSALS)
def test_invalid_token(sign_in_emulator, openid_provider, provider_keys, case):
    forged = TOKEN_REFUSALS[case](openid_provider, provider_keys)
    refusal(send(sign_in_emulator, forged), 401, "invalid-token")


# Times are seconds from when the test runs (not from when the suite was collected, minutes earlier).
TIMES = ("exp", "iat", "nbf")


@pytest.mark.parametrize("overrides, code", [
    ({"exp": -120, "iat": -720}, "token-expired"),
    ({"nbf": 600}, "token-not-yet-valid"),
    ({"iat": 600, "exp": 1200}, "token-not-yet-valid"),
    ({"iss": "https://accounts.google.com"}, "wrong-issuer"),
    ({"aud": "another-client"}, "wrong-audience"),
    ({"aud": [CLIENT_ID, "another-client"], "azp": CLIENT_ID}, "wrong-audience"),
    ({"aud": [CLIENT_ID, IOS_CLIENT]}, "wrong-authorized-party"),
    ({"aud": [CLIENT_ID, IOS_CLIENT], "azp": "another-client"}, "wrong-authorized-party"),
], ids=["expired", "nbf ahead", "iat ahead", "issuer", "audience", "extra audience", "no azp", "azp"])
def test_claims(sign_in_emulator, openid_provider, provider_keys, overrides, code):
    now = int(time.time())
    claims = {name: now + value if name in TIMES else value for name, value in overrides.items()}
    refusal(send(sign_in_emulator, token(openid_provider, provider_keys, **claims)), 401, code)


def test_several_audiences_with_our_azp_pass(sign_in_emulator, openid_provider, provider_keys):
    forged = token(openid_provider, provider_keys, aud=[CLIENT_ID, IOS_CLIENT], azp=IOS_CLIENT)
    assert send(sign_in_emulator, forged).status_code == 200


@pytest.mark.parametrize("request_nonce, token_nonce", [("another", NONCE), (None, NONCE), (NONCE, None)],
                         ids=["different", "request sent none", "token has none"])
def test_nonce_mismatch(sign_in_emulator, openid_provider, provider_keys, request_nonce, token_nonce):
    forged = token(openid_provider, provider_keys, nonce=token_nonce)
    refusal(send(sign_in_emulator, forged, nonce=request_nonce), 401, "nonce-mismatch")


def test_token_already_used(sign_in_emulator, openid_provider, provider_keys):
    forged = token(openid_provider, provider_keys)
    assert send(sign_in_emulator, forged).status_code == 200
    refusal(send(sign_in_emulator, forged), 401, "token-already-used")
    with_jti = token(openid_provider, provider_keys, jti="jti-1")  # named by jti: another text, same jti
    assert send(sign_in_emulator, with_jti).status_code == 200
    refusal(send(sign_in_emulator, token(openid_provider, provider_keys, jti="jti-1")), 401, "token-already-used")


def test_nonce_required(any_store_url, openid_provider, provider_keys):
    with running_emulator(any_store_url, ID_PROVIDERS=openid_provider.settings(), ID_TOKEN_REQUIRE_NONCE="true") as emulator:
        refusal(send(emulator, token(openid_provider, provider_keys, nonce=None), nonce=None), 401, "nonce-required")
        assert send(emulator, token(openid_provider, provider_keys)).status_code == 200


# The request ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "not json", "[1, 2]", json.dumps({"provider": "local"}), json.dumps({"id_token": "x"}),
    json.dumps({"provider": "local", "id_token": 42}),
    json.dumps({"provider": "local", "id_token": "x", "STORE_URL": "tinydb:///tmp/elsewhere.json"}),
    json.dumps({"provider": "local", "id_token": "x", "customer": {"firstname": 7}}),
    json.dumps({"provider": "local", "id_token": "x", "customer": {"email": "victim@example.com"}}),
    json.dumps({"provider": "local", "id_token": "x", "customer": {"is_subscribed": "yes"}}),
    json.dumps({"provider": "local", "id_token": "x", "nonce": ["n"]}),
], ids=["not JSON", "not an object", "no id_token", "no provider", "id_token not a string", "a setting",
        "firstname not a string", "an email", "is_subscribed not a boolean", "nonce not a string"])
def test_invalid_request(sign_in_emulator, body):
    refusal(sign_in_emulator.sign_in(body, headers={"Content-Type": "application/json"}), 400, "invalid-request")


def test_get_is_refused(sign_in_emulator):
    refusal(requests.get(sign_in_emulator.base + SIGN_IN, timeout=30), 400, "invalid-request")


def test_unknown_provider(sign_in_emulator, openid_provider, provider_keys):
    answer = sign_in_emulator.sign_in({"provider": "google", "id_token": token(openid_provider, provider_keys)})
    refusal(answer, 400, "unknown-provider")


# The account (item 4) --------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, code", [
    ({"email": None, "email_verified": None}, "email-missing"),
    ({"email_verified": False}, "email-not-verified"),
    ({"email_verified": "false"}, "email-not-verified"),
    ({"email_verified": None}, "email-not-verified"),
], ids=["no email", "false", "'false'", "no email_verified"])
def test_email_must_be_verified(sign_in_emulator, openid_provider, provider_keys, overrides, code):
    refusal(send(sign_in_emulator, token(openid_provider, provider_keys, **overrides)), 403, code)


def test_apple_sends_email_verified_as_a_string(sign_in_emulator, openid_provider, provider_keys):
    forged = token(openid_provider, provider_keys, email="abc123@privaterelay.appleid.com", email_verified="true")
    answer = send(sign_in_emulator, forged)
    assert answer.status_code == 200 and answer.json()["customer"]["email"] == "abc123@privaterelay.appleid.com"


def test_names_from_the_token_else_the_request_else_refused(sign_in_emulator, openid_provider, provider_keys):
    nameless = {"given_name": None, "family_name": None, "email": f"{uuid.uuid4().hex}@example.com"}
    error = refusal(send(sign_in_emulator, token(openid_provider, provider_keys, **nameless)), 400, "names-required")
    assert "customer.firstname and customer.lastname" in error["message"]
    half = {"customer": {"firstname": "Ada"}}
    refusal(send(sign_in_emulator, token(openid_provider, provider_keys, **nameless), **half), 400, "names-required")
    sub = f"apple-{uuid.uuid4().hex}"
    first = send(sign_in_emulator, token(openid_provider, provider_keys, **{**nameless, "sub": sub}),
                 customer={"firstname": "Ada", "lastname": "Lovelace", "is_subscribed": True})
    assert first.json()["customer"] == {"email": nameless["email"], "firstname": "Ada", "lastname": "Lovelace",
                                        "is_subscribed": True}
    # Apple's later sign-ins carry no names, nor does the client have them: the link's are used
    later = send(sign_in_emulator, token(openid_provider, provider_keys, **{**nameless, "sub": sub, "jti": "later"}))
    assert later.status_code == 200 and later.json()["customer"]["firstname"] == "Ada"


def test_a_subject_keeps_its_account_when_its_email_changes(sign_in_emulator, openid_provider, provider_keys):
    sub = f"subject-{uuid.uuid4().hex}"
    first = send(sign_in_emulator, token(openid_provider, provider_keys, sub=sub, email=f"{sub}@example.com")).json()
    moved = send(sign_in_emulator, token(openid_provider, provider_keys, sub=sub, email="someone.else@example.com",
                                         email_verified=False)).json()
    assert moved["customer"]["email"] == f"{sub}@example.com" and moved["link"]["new"] is False
    assert token_customer_id(moved["token"]) == token_customer_id(first["token"])
    me = sign_in_emulator.graphql("{ customer { email } }", moved["token"])
    assert me == {"data": {"customer": {"email": f"{sub}@example.com"}}}


def test_an_existing_account_is_linked_by_default(sign_in_emulator, openid_provider, provider_keys):
    email = f"{uuid.uuid4().hex}@example.com"
    existing = exchange(sign_in_emulator, email)
    answer = send(sign_in_emulator, token(openid_provider, provider_keys, email=email)).json()
    assert answer["link"]["new"] is True and token_customer_id(answer["token"]) == existing


def exchange(emulator, email: str) -> int:
    """A customer made by Commerce's own exchange (as a password registration would): its id."""
    from customer_auth.customers import Customer

    customer, _ = emulator.store.find_or_create_customer(
        Customer(email=email, firstname="Reg", lastname="Istered", website_id=1, store_id=1,
                 created_at="2020-01-01 00:00:00", updated_at="2020-01-01 00:00:00"))
    return customer.id


@pytest.mark.parametrize("commerce_tells", [True, False], ids=["isEmailAvailable", "created_at"])
def test_account_exists_when_linking_existing_accounts_is_off(any_store_url, openid_provider, provider_keys,
                                                              commerce_tells):
    """With Guest Checkout Login on, Commerce's isEmailAvailable says the email is taken and nothing is
    exchanged; with it off (its default), the exchanged account's created_at gives it away and the token
    is dropped. An account made by a sign-in, and a new email, are fine either way."""
    settings = {"GUEST_CHECKOUT_LOGIN": "true"} if commerce_tells else {}
    with running_emulator(any_store_url, ID_PROVIDERS=openid_provider.settings(), LINK_EXISTING_ACCOUNTS="false",
                          **settings) as emulator:
        registered = f"{uuid.uuid4().hex}@example.com"
        customer_id = exchange(emulator, registered)
        sub = f"subject-{uuid.uuid4().hex}"
        error = refusal(send(emulator, token(openid_provider, provider_keys, email=registered, sub=sub)), 403,
                        "account-exists")
        assert "already exists" in error["message"]
        assert emulator.store.account_link(openid_provider.issuer, sub) is None
        issued = [e for e in emulator.store.audit_entries() if e["customer_id"] == customer_id]
        assert len(issued) == (0 if commerce_tells else 1)  # asked first: nothing was exchanged
        fresh = send(emulator, token(openid_provider, provider_keys, email=f"{uuid.uuid4().hex}@example.com"))
        assert fresh.status_code == 200, fresh.text
        # another provider subject with the email a sign-in created: linked, it is a social account already
        again = send(emulator, token(openid_provider, provider_keys, email=fresh.json()["customer"]["email"]))
        assert again.status_code == 200 and again.json()["link"]["new"] is True


def test_tenant_not_allowed(any_store_url, provider_keys, monkeypatch):
    """Entra ID's keys live at login.microsoftonline.com, which these tests do not reach: the action's key
    cache is handed the keys as that edge would; the rest is the action as deployed."""
    allowed, other = "11111111-2222-3333-4444-555555555555", "99999999-8888-7777-6666-555555555555"
    action = load_action("verify-id-token")
    monkeypatch.setattr(action, "DOCUMENTS", DocumentCache(lambda url: Fetched(provider_keys.jwks(), 3600)))
    settings = {"STORE_URL": any_store_url,
                "ID_PROVIDERS": json.dumps({"microsoft": {"client_ids": ["app"], "tenants": [allowed]}})}

    def sign_in(tenant: str) -> dict[str, Any]:
        forged = sign(claims(iss=f"https://login.microsoftonline.com/{tenant}/v2.0", tid=tenant, aud="app",
                             xms_edov=True, email_verified=None), provider_keys.first)
        body = json.dumps({"provider": "microsoft", "id_token": forged, "nonce": NONCE})
        return action.main({**settings, "__ow_method": "post", "__ow_headers": {"content-type": "application/json"},
                            "__ow_body": base64.b64encode(body.encode()).decode()})

    assert sign_in(allowed)["identity"]["email_verified"] is True  # xms_edov stands in for email_verified
    error = sign_in(other)["error"]
    assert error["statusCode"] == 401 and error["body"]["errors"][0]["extensions"]["code"] == "tenant-not-allowed"


def test_the_store_header_passes_through(any_store_url, openid_provider, provider_keys):
    """One subject signing in at two store views of two websites: a customer in each, one link."""
    with running_emulator(any_store_url, ID_PROVIDERS=openid_provider.settings(),
                          STORES="default:base,fr:europe") as emulator:
        sub, email = f"subject-{uuid.uuid4().hex}", f"{uuid.uuid4().hex}@example.com"
        base = send(emulator, token(openid_provider, provider_keys, sub=sub, email=email)).json()
        answer = emulator.sign_in({"provider": "local", "nonce": NONCE, "id_token": token(
            openid_provider, provider_keys, sub=sub, email=email, jti="second")}, headers={"Store": "fr"})
        assert answer.status_code == 200, answer.text
        assert token_customer_id(answer.json()["token"]) != token_customer_id(base["token"])
        assert {c.website_id for c in emulator.store.customers() if c.email == email} == {1, 2}
        assert answer.json()["link"]["new"] is False


def test_customer_invalid_in_commerces_words(sign_in_emulator, openid_provider, provider_keys):
    error = refusal(send(sign_in_emulator, token(openid_provider, provider_keys, email="plainaddress")), 400,
                    "customer-invalid")
    assert error["message"] == '"Email" is not a valid email address.'


def test_commerce_unreachable_or_refusing_is_no_refusal(any_store_url, openid_provider, provider_keys):
    """Not the shopper's fault: 502 commerce-unavailable, whether nothing answers at COMMERCE_GRAPHQL_URL
    or Commerce refuses the integration (the log says to check the credentials)."""
    from customer_auth.integrations import Integration
    from social_login.settings import CREDENTIALS
    from tests.conftest import free_port

    stranger = Integration(name="not-in-commerce")
    credentials = {name: getattr(stranger, key) for key, name in CREDENTIALS.items()}
    with running_emulator(any_store_url, ID_PROVIDERS=openid_provider.settings(), **credentials,
                          COMMERCE_GRAPHQL_URL=f"http://127.0.0.1:{free_port()}/graphql") as emulator:
        refusal(send(emulator, token(openid_provider, provider_keys)), 502, "commerce-unavailable")
    with running_emulator(any_store_url, ID_PROVIDERS=openid_provider.settings(), **credentials) as emulator:
        refusal(send(emulator, token(openid_provider, provider_keys)), 502, "commerce-unavailable")
        logs = emulator.controller.activations.list(1, name="social-login/exchange-customer-token")[0].logs
        assert any("check the AIO_COMMERCE_AUTH_INTEGRATION_* credentials" in line for line in logs)
