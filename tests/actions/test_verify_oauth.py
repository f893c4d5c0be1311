"""verify-oauth: every way a caller can fail to be an authorized integration, and the ways it succeeds."""
from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_PLAINTEXT

from customer_auth import passwords
from customer_auth.integrations import INACTIVE, Integration
from customer_auth.oauth1 import SignedRequest, authorization_header, base_string, form_pairs, parse_authorization
from tests.conftest import SEED_CUSTOMER, settings, signed_web_params


@pytest.fixture
def store_url(any_store_url: str) -> str:
    """Every refusal (nonce reuse and revoked integrations among them) on both storage backends."""
    return any_store_url


DENIED = {
    "errors": [
        {
            "message": "You do not have permission to access this resource.",
            "extensions": {"category": "graphql-authorization"},
        }
    ]
}


def run(actions, params):
    return actions["verify-oauth"].main(params)


def assert_denied(result, capsys, reason: str) -> None:
    assert result["error"]["statusCode"] == 401
    assert result["error"]["body"] == DENIED
    log = capsys.readouterr().out
    assert reason in log, log


def test_signed_request_passes_on_input_store_and_integration(actions, store_url, integration):
    params = signed_web_params(integration, extra_headers={"store": "default"})
    result = run(actions, {**params, **settings(store_url)})
    assert result == {
        "input": {"customer": SEED_CUSTOMER},
        "password_seal": None,
        "store_code": "default",
        "integration": {"id": integration.id, "name": "social-login"},
    }


@pytest.mark.parametrize("password, errors", [
    ("Str0ng-Passw0rd!", []),
    ("weakpass", ["Minimum of different classes of characters in password is 3. Classes of characters: "
                  "Lower Case, Upper Case, Digits, Special Characters."]),
])
def test_the_shoppers_password_leaves_only_sealed(actions, store_url, integration, password, errors):
    """The result becomes an activation record (and the next action's params): it holds the
    password's hash, or why the password is refused, never the password."""
    params = signed_web_params(integration, body={"customer": {**SEED_CUSTOMER, "password": password}})
    result = run(actions, {**params, **settings(store_url)})
    assert password not in repr(result)
    assert result["input"] == {"customer": SEED_CUSTOMER}
    assert result["password_seal"]["errors"] == errors
    if errors:
        assert result["password_seal"]["hash"] is None
    else:
        _, rounds, salt, digest = result["password_seal"]["hash"].split("$")
        assert hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds)).hex() == digest


@pytest.mark.parametrize("body", [
    {"customer": {**SEED_CUSTOMER, "password": ["Pw-Hunter2-Secret"]}},
    {"customer": {**SEED_CUSTOMER, "password": {"value": "Pw-Hunter2-Secret"}}},
    {"customer": {**SEED_CUSTOMER, "Password": "Pw-Hunter2-Secret"}},
    {"customer": SEED_CUSTOMER, "password": "Pw-Hunter2-Secret"},
])
def test_no_password_goes_on_in_any_shape(actions, store_url, integration, body):
    """verify-oauth's result is an activation record: a password sent as no string, or under another
    name, is not in it; the type check still refuses it by its field's name."""
    result = run(actions, {**signed_web_params(integration, body=body), **settings(store_url)})
    assert "Hunter2" not in json.dumps(result)
    if isinstance(body["customer"].get("password"), (list, dict)):
        assert result["password_seal"] == {"errors": [passwords.NOT_A_STRING], "hash": None}


SECRET = "Pw-Hunter2-Secret"


@pytest.mark.parametrize("body, refused", [
    ({"customer": {**SEED_CUSTOMER, "pwd": SECRET}}, 'Field "pwd" is not defined by type CustomerCreateInput.'),
    ({"customer": {**SEED_CUSTOMER, "pass": SECRET}}, 'Field "pass" is not defined by type CustomerCreateInput.'),
    ({"customer": {**SEED_CUSTOMER, "pass\u200bword": SECRET}},
     'Field "pass\u200bword" is not defined by type CustomerCreateInput.'),
    ({"customer": {**SEED_CUSTOMER, "notes": {"pin": [SECRET]}}},
     'Field "notes" is not defined by type CustomerCreateInput.'),
    ({"customer": SEED_CUSTOMER, "credentials": SECRET},
     'Field "credentials" is not defined by type ExchangeExternalCustomerTokenInput.'),
    ({"customer": {**SEED_CUSTOMER, "custom_attributes": [{"attribute_code": "loyalty", "pwd": SECRET}]}},
     'Field "pwd" is not defined by type AttributeValueInput.'),
    ({"customer": {**SEED_CUSTOMER, "custom_attributes": [{"attribute_code": "loyalty",
                                                           "selected_options": [{"value": "M", "key": SECRET}]}]}},
     'Field "key" is not defined by type AttributeInputSelectedOption.'),
    ({"customer": {**SEED_CUSTOMER, "firstname": {"password": SECRET}}},
     'String cannot represent a non string value: {"password": "[REDACTED]"}'),
    ({"customer": {**SEED_CUSTOMER, "custom_attributes": [f"pwd={SECRET}"]}},
     'Expected type "AttributeValueInput" to be an object.'),
    ({"customer": f"password={SECRET}"}, 'Expected type "CustomerCreateInput" to be an object.'),
])
def test_values_of_fields_the_input_does_not_define_never_leave(actions, store_url, integration, body, refused):
    """verify-oauth's result is an activation record, and the next action's params: a field the input
    types do not define goes on by its name alone, for upsert-customer to refuse it by name as
    Commerce does; so does what stands where an object belongs but is none."""
    settings_ = settings(store_url, CUSTOMER_CUSTOM_ATTRIBUTES="loyalty")
    result = run(actions, {**signed_web_params(integration, body=body), **settings_})
    assert SECRET not in json.dumps(result)
    refusal = actions["upsert-customer"].main({**result, **settings_})
    assert refused in [e["message"] for e in refusal["error"]["body"]["errors"]]
    assert SECRET not in json.dumps(refusal)


@pytest.mark.parametrize("listed", ["", "loyalty"])
def test_a_custom_attribute_commerce_would_not_keep_goes_on_by_its_code_alone(actions, store_url, integration,
                                                                              listed):
    """Its value is kept only when CUSTOMER_CUSTOM_ATTRIBUTES lists its code, which no secret's name
    can be; `password` (or any other) is refused by upsert-customer by its code."""
    attributes = [{"attribute_code": "password", "value": SECRET},
                  {"attribute_code": "pass\u200bword", "selected_options": [{"value": SECRET}]},
                  {"attribute_code": "loyalty", "value": "gold"}]
    body = {"customer": {**SEED_CUSTOMER, "custom_attributes": attributes}}
    result = run(actions, {**signed_web_params(integration, body=body),
                           **settings(store_url, CUSTOMER_CUSTOM_ATTRIBUTES=listed)})
    assert SECRET not in json.dumps(result)
    kept = [{"attribute_code": "loyalty", "value": "gold"} if listed else {"attribute_code": "loyalty"}]
    assert result["input"]["customer"]["custom_attributes"] == [
        {"attribute_code": "password"}, {"attribute_code": "pass\u200bword"}, *kept]


def test_web_sequence_url_verifies_without_forwarded_uri(actions, store_url, integration, monkeypatch):
    monkeypatch.setenv("__OW_NAMESPACE", "guest")
    url = "https://ow.example.com/api/v1/web/guest/customer-auth/exchange-external-customer-token"
    params = signed_web_params(integration, url=url)
    del params["__ow_headers"]["x-forwarded-uri"]
    assert "error" not in run(actions, {**params, **settings(store_url)})


def test_query_string_is_part_of_the_signature(actions, store_url, integration, capsys):
    params = signed_web_params(integration, url="http://127.0.0.1:9080/graphql?a=1&b=two%20words")
    assert "error" not in run(actions, {**params, **settings(store_url)})
    tampered = signed_web_params(integration, url="http://127.0.0.1:9080/graphql?a=1")
    tampered["__ow_headers"]["x-forwarded-uri"] = "/graphql?a=2"
    assert_denied(run(actions, {**tampered, **settings(store_url)}), capsys, "The signature is invalid")


def test_a_query_sent_unencoded_is_read_as_received(actions, store_url, integration):
    """Node's fetch and browsers (WHATWG URL) send `[ ] { } | ^` and the backtick unencoded; RFC 5849
    3.4.1.3.1 decodes the query as received (form-urlencoded: `+` a space, a stray `%` itself). It
    verifies; it was an internal error (authlib's url_decode refuses such a string)."""
    query = "searchCriteria[pageSize]=5&x={y}|^`&a=b+c&p=100%"
    assert form_pairs(query) == [("searchCriteria[pageSize]", "5"), ("x", "{y}|^`"), ("a", "b c"), ("p", "100%")]
    assert "searchCriteria%255BpageSize%255D%3D5" in base_string("POST", "http://h/graphql?" + query, form_pairs(query))
    url = f"http://127.0.0.1:9080/graphql?{query}"
    params = signed_web_params(integration, url="http://127.0.0.1:9080/graphql")
    body = base64.b64decode(params["__ow_body"]).decode()
    params["__ow_headers"]["x-forwarded-uri"] = f"/graphql?{query}"
    params["__ow_headers"]["authorization"] = authorization_header(
        SignedRequest("POST", url, {"content-type": "application/json"}, body), integration, int(time.time()), "n-1")
    assert "error" not in run(actions, {**params, **settings(store_url)})


def test_a_host_no_url_can_hold_is_a_refusal(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_headers"]["host"] = "[::1"
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "the request URL cannot be signed")


def test_public_base_url_behind_a_reverse_proxy(actions, store_url, integration, capsys):
    params = signed_web_params(integration, url="https://shop.example.com/graphql")
    params["__ow_headers"].update({"host": "127.0.0.1:9080", "x-forwarded-proto": "http"})
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "signature is invalid")
    again = signed_web_params(integration, url="https://shop.example.com/graphql")
    again["__ow_headers"].update({"host": "127.0.0.1:9080", "x-forwarded-proto": "http"})
    result = run(actions, {**again, **settings(store_url, PUBLIC_BASE_URL="https://shop.example.com/")})
    assert "error" not in result


def test_form_body_is_signed(actions, store_url, integration, capsys):
    from oauthlib.oauth1 import Client

    client = Client(integration.consumer_key, client_secret=integration.consumer_secret,
                    resource_owner_key=integration.access_token,
                    resource_owner_secret=integration.access_token_secret, signature_method="HMAC-SHA256")
    _, headers, _ = client.sign("http://h/graphql", http_method="POST", body="x=1&y=2",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    base = {"__ow_method": "post", "__ow_path": "", "__ow_query": ""}
    hdrs = {"host": "h", "x-forwarded-proto": "http", "x-forwarded-uri": "/graphql",
            "content-type": "application/x-www-form-urlencoded", "authorization": headers["Authorization"]}
    result = run(actions, {**base, "__ow_headers": hdrs, "__ow_body": "x=1&y=3", **settings(store_url)})
    assert_denied(result, capsys, "signature is invalid")


def test_method_is_signed(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_method"] = "put"
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "signature is invalid")


@pytest.mark.parametrize(
    "parameter",
    ["oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_nonce", "oauth_timestamp", "oauth_token"],
)
def test_each_required_parameter(actions, store_url, integration, capsys, parameter):
    params = signed_web_params(integration)
    header = params["__ow_headers"]["authorization"]
    parts = [p for p in header[len("OAuth "):].split(", ") if not p.startswith(parameter + "=")]
    params["__ow_headers"]["authorization"] = "OAuth " + ", ".join(parts)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, f'"{parameter}" is required')


def test_oauth_version_must_be_1_0(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = params["__ow_headers"]["authorization"].replace(
        'oauth_version="1.0"', 'oauth_version="2.0"')
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "oauth_version must be 1.0")


def test_hmac_sha1_only_when_enabled(actions, store_url, integration, capsys):
    params = signed_web_params(integration, signature_method=SIGNATURE_HMAC_SHA1)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "Signature method HMAC-SHA1 is not supported")
    params = signed_web_params(integration, signature_method=SIGNATURE_HMAC_SHA1)
    assert "error" not in run(actions, {**params, **settings(store_url, OAUTH_ALLOW_HMAC_SHA1="true")})


def test_plaintext_refused_even_with_sha1_enabled(actions, store_url, integration, capsys):
    params = signed_web_params(integration, signature_method=SIGNATURE_PLAINTEXT)
    result = run(actions, {**params, **settings(store_url, OAUTH_ALLOW_HMAC_SHA1="true")})
    assert_denied(result, capsys, "Signature method PLAINTEXT is not supported")


def test_rsa_refused(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = params["__ow_headers"]["authorization"].replace(
        "HMAC-SHA256", "RSA-SHA1")
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "Signature method RSA-SHA1 is not supported")


@pytest.mark.parametrize("offset,reason", [(-601, "beyond the 600 s window"), (601, "Incorrect timestamp value")])
def test_timestamp_window_both_ways(actions, store_url, integration, capsys, offset, reason):
    params = signed_web_params(integration, timestamp=str(int(time.time()) + offset))
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, reason)


def test_timestamp_window_is_configurable(actions, store_url, integration, capsys):
    params = signed_web_params(integration, timestamp=str(int(time.time()) - 120))
    assert_denied(run(actions, {**params, **settings(store_url, OAUTH_TIMESTAMP_WINDOW="60")}), capsys, "window")


def test_nonce_is_accepted_once(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    assert "error" not in run(actions, {**params, **settings(store_url)})
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys,
                  f"The nonce is already being used by the consumer with ID {integration.id}")


def test_a_nonce_longer_than_commerces_column_is_refused_before_any_lookup(actions, store_url, store, integration,
                                                                          capsys):
    """Commerce keeps a nonce in a varchar(32): a 33-character one is refused, before the consumer is
    looked up (a stranger's is refused for its nonce, not its key) and so before anything is stored."""
    nonce = "n" * 7_000
    stranger = Integration(name="never-stored")
    reason = "An error occurred validating the nonce (oauth_nonce is longer than 32 characters)"
    assert_denied(run(actions, {**signed_web_params(stranger, nonce=nonce), **settings(store_url)}), capsys, reason)
    for length in (7_000, 33):
        params = signed_web_params(integration, nonce="n" * length)
        assert_denied(run(actions, {**params, **settings(store_url)}), capsys, reason)
    assert "error" not in run(actions, {**signed_web_params(integration, nonce="n" * 32), **settings(store_url)})


def test_unknown_consumer(actions, store_url, capsys, store):
    stranger = Integration(name="never-stored")
    params = signed_web_params(stranger)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "A consumer having the specified key does not exist")


def test_wrong_token_for_the_consumer(actions, store_url, store, integration, capsys):
    other = store.add_integration(Integration(name="other"))
    mixed = Integration(name="mixed", consumer_key=integration.consumer_key,
                        consumer_secret=integration.consumer_secret,
                        access_token=other.access_token, access_token_secret=other.access_token_secret)
    params = signed_web_params(mixed)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "access token does not belong")


def test_bad_signature(actions, store_url, integration, capsys):
    forged = Integration(**{**integration.to_record(), "consumer_secret": "x" * 32})
    params = signed_web_params(forged)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "The signature is invalid. Verify and try again.")


def test_revoked_integration(actions, store_url, store, integration, capsys):
    integration.token_revoked = True
    store.save_integration(integration)
    params = signed_web_params(integration)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "Access token has been revoked")


def test_inactive_integration(actions, store_url, store, integration, capsys):
    integration.status = INACTIVE
    store.save_integration(integration)
    params = signed_web_params(integration)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "is inactive")


def test_integration_without_the_permission(actions, store_url, store, capsys):
    limited = store.add_integration(Integration(name="catalog-only", resources=["Magento_Catalog::products"]))
    params = signed_web_params(limited)
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "lacks the resource Magento_Customer::retrieve_tokens")
    again = signed_web_params(limited)
    result = run(actions, {**again, **settings(store_url, OAUTH_REQUIRED_RESOURCE="Magento_Catalog::products")})
    assert "error" not in result


def test_bearer_mode_is_off_by_default(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = f"Bearer {integration.access_token}"
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "OAUTH_BEARER_ENABLED is off")


def test_bearer_mode_when_enabled(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = f"Bearer {integration.access_token}"
    assert "error" not in run(actions, {**params, **settings(store_url, OAUTH_BEARER_ENABLED="yes")})
    params["__ow_headers"]["authorization"] = "Bearer " + "z" * 32
    result = run(actions, {**params, **settings(store_url, OAUTH_BEARER_ENABLED="yes")})
    assert_denied(result, capsys, "no integration's access token")


def test_no_authorization_header(actions, store_url, integration, capsys):
    params = signed_web_params(integration)
    del params["__ow_headers"]["authorization"]
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, "no OAuth or Bearer")


@pytest.mark.parametrize("header, reason", [
    ('OAuth oauth_consumer_key=', '"oauth_consumer_key" is required'),  # was an IndexError: a 500
    ("OAuth oauth_consumer_key", "malformed OAuth Authorization header"),
    ('OAuth ="x"', "malformed OAuth Authorization header"),
    ('OAuth oauth_nonce="a", oauth_nonce="b"', "duplicated OAuth parameters: oauth_nonce"),
    ('OAuth oauth_consumer_key="' + "%00" * 32 + '"', "control characters in OAuth parameters"),  # a 500 on PostgreSQL
    ('OAuth oauth_signature_method="X%0AINFO integration 1 authenticated"', "control characters in OAuth parameters"),
])
def test_a_malformed_authorization_header_is_a_refusal(actions, store_url, integration, capsys, header, reason):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = header
    assert_denied(run(actions, {**params, **settings(store_url)}), capsys, reason)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings_(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "post", "Put"]),
       url=st.builds("{}://{}{}{}".format, st.sampled_from(["http", "HTTPS"]),
                     st.sampled_from(["Example.com", "example.com:80", "example.com:443", "h:8080", "[::1]:80"]),
                     st.sampled_from(["", "/", "/r%20v/X", "/a;p=1", "/graphql"]),
                     st.sampled_from(["", "?b5=%3D%253D&a3=a", "#frag"])),
       params=st.lists(st.tuples(st.sampled_from(["a3", "c@", "oauth_nonce", "oauth_token", "realm",
                                                  "oauth_signature", "b5"]) | _TEXT,
                                 st.sampled_from(["a%2Bb", "%3D%253D", "r%20b", "~x y", ""]) | _TEXT), max_size=8))
def test_base_string_is_authlibs(method, url, params):
    """Our base string (RFC 5849 section 3.4.1) against authlib's construct_base_string, the oracle."""
    from authlib.oauth1.rfc5849.signature import construct_base_string

    assert base_string(method, url, params) == construct_base_string(method, url, params)


def test_authorization_header_syntax():
    """RFC 5849 section 3.5.1 as Commerce reads it: quoted or bare values, percent-decoded; a comma in
    quotes stays in its value; empty list elements are skipped."""
    assert parse_authorization('realm="Example",oauth_nonce="a%2Bb" , oauth_token=tok,,') == {
        "realm": "Example", "oauth_nonce": "a+b", "oauth_token": "tok"}
    assert parse_authorization('a="x,y", b="z"') == {"a": "x,y", "b": "z"}


def test_oauth_prefix_is_case_insensitive(actions, store_url, integration):
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = "oauth " + params["__ow_headers"]["authorization"][6:]
    assert "error" not in run(actions, {**params, **settings(store_url)})


def test_plain_json_body_is_accepted_too(actions, store_url, integration):
    """OpenWhisk base64-encodes a raw JSON body; a gateway that does not is understood as well."""
    params = signed_web_params(integration)
    import base64

    params["__ow_body"] = base64.b64decode(params["__ow_body"]).decode()
    assert run(actions, {**params, **settings(store_url)})["input"] == {"customer": SEED_CUSTOMER}


def test_no_secret_reaches_the_log(actions, store_url, integration, capsys):
    for params in (signed_web_params(integration), signed_web_params(integration)):
        run(actions, {**params, **settings(store_url, OAUTH_BEARER_ENABLED="true")})
    params = signed_web_params(integration)
    params["__ow_headers"]["authorization"] = f"Bearer {integration.access_token}"
    run(actions, {**params, **settings(store_url)})
    log = capsys.readouterr().out
    for secret in (integration.consumer_secret, integration.access_token, integration.access_token_secret):
        assert secret not in log


def test_an_oauth_parameter_in_the_query_counts_once_as_the_headers():
    """Adobe's signer (oauth-1.0a) copies a query parameter named oauth_... into the Authorization header
    and signs it once; Commerce reads protocol parameters from the header and ignores the query's."""
    from customer_auth.oauth1 import HMAC_SHA256, SignedRequest, signature

    oauth = {"oauth_consumer_key": "k" * 32, "oauth_token": "t" * 32, "oauth_nonce": "n", "oauth_timestamp": "1",
             "oauth_signature_method": HMAC_SHA256, "oauth_version": "1.0", "oauth_x": "1"}
    both = SignedRequest("POST", "http://127.0.0.1:9080/graphql?oauth_x=1&a=2", {})
    header_only = SignedRequest("POST", "http://127.0.0.1:9080/graphql?a=2", {})
    assert signature(both, oauth, HMAC_SHA256, "c", "s") == signature(header_only, oauth, HMAC_SHA256, "c", "s")
