"""The customer token at work: the `customer` query, revokeCustomerToken, isEmailAvailable."""
from __future__ import annotations

import time

import jwt
import pytest

from customer_auth import tokens
from customer_auth.customers import encode_uid
from customer_auth.graphql import GraphQLFacade
from tests.conftest import CRYPT_KEY
from tests.graphql.conftest import SEED_MUTATION, post

CUSTOMER_QUERY = "{ customer { id email firstname lastname is_subscribed confirmation_status group { uid } " \
                 "addresses { city } custom_attributes { code } allow_remote_shopping_assistance } }"
NOT_AUTHORIZED = "The current customer isn't authorized."


def _token(facade, integration) -> str:
    return post(facade, SEED_MUTATION, integration=integration).json["data"]["exchangeExternalCustomerToken"]["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Where the refused field sits in the one-line documents these tests send.
FIELD_COLUMN = {"customer": 3, "revokeCustomerToken": 12}


def assert_not_authorized(answer, field="customer"):
    assert answer.status == 200
    assert answer.json == {
        "errors": [{
            "message": NOT_AUTHORIZED,
            "locations": [{"line": 1, "column": FIELD_COLUMN[field]}],
            "path": [field],
            "extensions": {"category": "graphql-authorization"},
        }],
        "data": {field: None},
    }


def test_customer_query_with_the_token(facade, integration):
    token = _token(facade, integration)
    answer = post(facade, CUSTOMER_QUERY, headers=_bearer(token))
    customer = answer.json["data"]["customer"]
    uid = jwt.decode(token, options={"verify_signature": False})["uid"]
    assert customer["email"] == "roni_cost@example.com"
    assert customer["firstname"] == "Roni" and customer["lastname"] == "Cost" and customer["is_subscribed"] is False
    assert customer["id"] == encode_uid(uid)
    assert customer["confirmation_status"] == "ACCOUNT_CONFIRMATION_NOT_REQUIRED"
    assert customer["group"] == {"uid": "MQ=="} and customer["addresses"] == [] and customer["custom_attributes"] == []


def test_bearer_prefix_is_case_insensitive(facade, integration):
    token = _token(facade, integration)
    assert post(facade, "{ customer { email } }", headers={"Authorization": f"bearer {token}"}).json["data"]


def test_custom_attributes_are_shown(facade, invoker, integration):
    invoker.settings["CUSTOMER_CUSTOM_ATTRIBUTES"] = "loyalty, sizes"
    query = """mutation { exchangeExternalCustomerToken(input: {customer: {firstname: "A", lastname: "B",
      email: "a@example.com", custom_attributes: [{attribute_code: "loyalty", value: "gold"},
      {attribute_code: "sizes", selected_options: [{value: "M"}]}]}}) {
        customer { custom_attributes { code ... on AttributeValue { value }
          ... on AttributeSelectedOptions { selected_options { label value } } } }
        token } }"""
    output = post(facade, query, integration=integration).json["data"]["exchangeExternalCustomerToken"]
    expected = [{"code": "loyalty", "value": "gold"},
                {"code": "sizes", "selected_options": [{"label": "M", "value": "M"}]}]
    assert output["customer"]["custom_attributes"] == expected
    filtered = post(facade, '{ customer { custom_attributes(attributeCodes: ["sizes"]) { code } } }',
                    headers=_bearer(output["token"]))
    assert filtered.json["data"]["customer"]["custom_attributes"] == [{"code": "sizes"}]


def test_no_token(facade):
    assert_not_authorized(post(facade, "{ customer { email } }"))
    assert_not_authorized(post(facade, "{ customer { email } }", headers={"Authorization": "Basic abc"}))
    assert_not_authorized(post(facade, "{ customer { email } }", headers={"Authorization": "Bearer"}))
    assert_not_authorized(post(facade, "{ customer { email } }", headers={"Authorization": "Bearer not.a.jwt"}))


def test_revoke_then_refused(facade, integration):
    token = _token(facade, integration)
    answer = post(facade, "mutation { revokeCustomerToken { result } }", headers=_bearer(token))
    assert answer.json == {"data": {"revokeCustomerToken": {"result": True}}}
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(token)))
    assert_not_authorized(post(facade, "mutation { revokeCustomerToken { result } }", headers=_bearer(token)),
                          "revokeCustomerToken")


def test_revocation_spares_later_tokens(app_settings, invoker, integration, store):
    now = [time.time()]
    facade = GraphQLFacade(app_settings, invoker, clock=lambda: now[0])
    old = _token(facade, integration)
    claims = jwt.decode(old, options={"verify_signature": False})
    uid, now[0] = claims["uid"], claims["iat"]  # revoke in the second the token was issued
    assert post(facade, "mutation { revokeCustomerToken { result } }", headers=_bearer(old)).json["data"]
    later = tokens.issue(uid, tokens.TokenPolicy(key=tokens.signing_key(CRYPT_KEY)), now=int(now[0]) + 5)
    now[0] += 10
    assert post(facade, "{ customer { email } }", headers=_bearer(later)).json["data"]["customer"]
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(old)))


def _policy(**overrides):
    return tokens.TokenPolicy(key=tokens.signing_key(CRYPT_KEY), **overrides)


def test_forged_token(facade, integration):
    token = _token(facade, integration)
    uid = jwt.decode(token, options={"verify_signature": False})["uid"]
    forged = tokens.issue(uid, tokens.TokenPolicy(key=tokens.signing_key("another-crypt-key")), now=int(time.time()))
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(forged)))
    header, claims, signature = token.split(".")
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(f"{header}.{claims}.x{signature}")))


def test_expired_token(facade, integration):
    uid = jwt.decode(_token(facade, integration), options={"verify_signature": False})["uid"]
    expired = tokens.issue(uid, _policy(), now=int(time.time()) - 3601)
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(expired)))


def test_alg_none_token(facade, integration):
    uid = jwt.decode(_token(facade, integration), options={"verify_signature": False})["uid"]
    now = int(time.time())
    unsigned = jwt.encode({"uid": uid, "utypid": 3, "iat": now, "exp": now + 3600}, None, algorithm="none",
                          headers={"kid": "1"})
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(unsigned)))


def test_token_of_another_user_type(facade, integration):
    uid = jwt.decode(_token(facade, integration), options={"verify_signature": False})["uid"]
    now = int(time.time())
    admin = jwt.encode({"uid": uid, "utypid": 2, "iat": now, "exp": now + 3600}, tokens.signing_key(CRYPT_KEY),
                       algorithm="HS256", headers={"kid": "1"})
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(admin)))


def test_customer_that_no_longer_exists(facade):
    ghost = tokens.issue(999, _policy(), now=int(time.time()))
    assert_not_authorized(post(facade, "{ customer { email } }", headers=_bearer(ghost)))


# isEmailAvailable ----------------------------------------------------------------------------------
def _available(facade, email, headers=None):
    return post(facade, f'{{ isEmailAvailable(email: "{email}") {{ is_email_available }} }}', headers=headers)


def test_is_email_available_reveals_nothing_by_default(facade, integration):
    """Commerce 2.4.7 and later: every valid email is available unless Enable Guest Checkout Login is on,
    so an unauthenticated caller cannot find out who has an account."""
    _token(facade, integration)
    assert _available(facade, "roni_cost@example.com").json == {"data": {"isEmailAvailable": {"is_email_available": True}}}


def test_is_email_available(app_settings, invoker, integration):
    facade = GraphQLFacade({**app_settings, "GUEST_CHECKOUT_LOGIN": "true"}, invoker)
    assert _available(facade, "roni_cost@example.com").json == {"data": {"isEmailAvailable": {"is_email_available": True}}}
    _token(facade, integration)
    assert _available(facade, "Roni_Cost@example.com").json["data"]["isEmailAvailable"]["is_email_available"] is False
    # the fr store shares website base; the us store is another website
    assert _available(facade, "roni_cost@example.com", {"Store": "fr"}).json["data"]["isEmailAvailable"] == {
        "is_email_available": False}
    assert _available(facade, "roni_cost@example.com", {"Store": "us"}).json["data"]["isEmailAvailable"] == {
        "is_email_available": True}


@pytest.mark.parametrize("email,message", [("plainaddress", "Email is invalid"), ("", "Email must be specified")])
def test_is_email_available_invalid(facade, email, message):
    answer = _available(facade, email)
    assert answer.messages() == [message] and answer.categories() == ["graphql-input"]
    assert answer.json["errors"][0]["path"] == ["isEmailAvailable"]
    assert answer.json["data"] == {"isEmailAvailable": None}


def test_is_email_available_unknown_store(facade):
    answer = _available(facade, "a@example.com", {"Store": "nowhere"})
    assert answer.messages() == ["Requested store is not found"]
    assert answer.categories() == ["graphql-no-such-entity"]


def test_missing_email_argument(facade):
    answer = post(facade, "{ isEmailAvailable { is_email_available } }")
    assert answer.messages() == ['Field "isEmailAvailable" argument "email" of type "String!" is required but not provided.']
    assert "data" not in answer.json
