"""exchangeExternalCustomerToken through the facade and the real web sequence: the seed, its error
table word for word (inline literals and variables), OAuth refusals, and what the facade sends."""
from __future__ import annotations

import base64
import json
import logging

import jwt
import pytest

from customer_auth.graphql import GraphQLFacade
from customer_auth.integrations import Integration
from tests.conftest import SEED_CUSTOMER, oauth_client
from tests.graphql.conftest import SEED_MUTATION, VARIABLES_MUTATION, post

INPUT = "graphql-input"
REQUIRED = "Field CustomerCreateInput.{} of required type String! was not provided"


def _literal(customer: dict) -> str:
    fields = " ".join(f"{k}: {json.dumps(v)}" for k, v in customer.items())
    return (
        "mutation { exchangeExternalCustomerToken(input: {customer: {" + fields + "}}) "
        "{ customer { email firstname lastname is_subscribed } token } }"
    )


def test_seed_example_end_to_end(facade, integration):
    answer = post(facade, SEED_MUTATION, integration=integration)
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    body = answer.json
    assert list(body) == ["data"]
    output = body["data"]["exchangeExternalCustomerToken"]
    assert list(output) == ["customer", "token"]
    assert output["customer"] == {
        "email": "roni_cost@example.com", "firstname": "Roni", "lastname": "Cost", "is_subscribed": False,
    }
    token = output["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert list(header.items()) == [("kid", "1"), ("alg", "HS256")]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["utypid"] == 3 and claims["exp"] - claims["iat"] == 3600


def test_same_email_returns_the_same_customer(facade, integration, store):
    first = post(facade, SEED_MUTATION, integration=integration).json["data"]["exchangeExternalCustomerToken"]
    again = post(facade, _literal({**SEED_CUSTOMER, "email": "RONI_COST@example.com"}), integration=integration)
    second = again.json["data"]["exchangeExternalCustomerToken"]
    uid = lambda t: jwt.decode(t, options={"verify_signature": False})["uid"]  # noqa: E731
    assert uid(first["token"]) == uid(second["token"])
    assert store.customer_count() == 1


def test_variables_work(facade, integration):
    answer = post(facade, VARIABLES_MUTATION, {"input": {"customer": SEED_CUSTOMER}}, integration=integration,
                  operation_name="Exchange")
    assert answer.json["data"]["exchangeExternalCustomerToken"]["customer"]["email"] == "roni_cost@example.com"


def test_the_sequence_gets_raw_web_params(facade, integration, invoker):
    post(facade, VARIABLES_MUTATION, {"input": {"customer": {**SEED_CUSTOMER, "gender": 2}}},
         integration=integration, headers={"Store": "fr"}, url="http://localhost/graphql?a=1")
    params = invoker.calls[-1]
    assert set(params) == {"__ow_method", "__ow_headers", "__ow_path", "__ow_query", "__ow_body"}
    assert params["__ow_method"] == "post" and params["__ow_path"] == "" and params["__ow_query"] == "a=1"
    headers = params["__ow_headers"]
    assert headers["x-forwarded-uri"] == "/graphql?a=1" and headers["store"] == "fr"
    assert headers["content-type"] == "application/json" and headers["host"] == "localhost"
    assert all(name == name.lower() for name in headers)
    assert json.loads(base64.b64decode(params["__ow_body"])) == {"customer": {**SEED_CUSTOMER, "gender": 2}}


# The seed's error table, row by row: inline literals and variables ------------------------------------
def _variables(customer: dict):
    return VARIABLES_MUTATION, {"input": {"customer": customer}}


# Where each style's errors point: the field for a resolver's error, the literal object or the variable
# definition for a request error.
FIELD_AT = {"literal": [{"line": 1, "column": 12}], "variables": [{"line": 3, "column": 3}]}
INPUT_AT = {"literal": [{"line": 1, "column": 60}], "variables": [{"line": 2, "column": 19}]}


@pytest.mark.parametrize("style", ["literal", "variables"])
def test_invalid_email(facade, integration, style):
    customer = {**SEED_CUSTOMER, "email": "plainaddress"}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.status == 200
    assert answer.json == {
        "errors": [{
            "message": '"Email" is not a valid email address.',
            "locations": FIELD_AT[style],
            "path": ["exchangeExternalCustomerToken"],
            "extensions": {"category": INPUT},
        }],
        "data": {"exchangeExternalCustomerToken": None},
    }
    assert list(answer.json) == ["errors", "data"]
    assert list(answer.json["errors"][0]) == ["message", "locations", "path", "extensions"]


@pytest.mark.parametrize("style", ["literal", "variables"])
@pytest.mark.parametrize("missing", ["email", "lastname", "firstname"])
def test_required_field_omitted(facade, integration, style, missing, invoker):
    customer = {k: v for k, v in SEED_CUSTOMER.items() if k != missing}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.status == 200
    assert answer.messages() == [REQUIRED.format(missing)]
    assert answer.categories() == [INPUT]
    assert "data" not in answer.json  # a request error: execution never began
    assert list(answer.json["errors"][0]) == ["message", "locations", "extensions"]
    assert answer.json["errors"][0]["locations"] == INPUT_AT[style]
    assert invoker.calls == []


@pytest.mark.parametrize("style", ["literal", "variables"])
def test_undefined_field(facade, integration, style):
    customer = {**SEED_CUSTOMER, "xyz": "1"}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.messages() == ['Field "xyz" is not defined by type CustomerCreateInput.']
    assert answer.categories() == [INPUT]


def test_no_did_you_mean_suggestion(facade, integration):
    answer = post(facade, _literal({**SEED_CUSTOMER, "emial": "x"}), integration=integration)
    assert answer.messages() == ['Field "emial" is not defined by type CustomerCreateInput.']


def test_unsigned_request_has_no_permission(facade):
    answer = post(facade, SEED_MUTATION)
    assert answer.status == 200
    assert answer.json == {
        "errors": [{
            "message": "You do not have permission to access this resource.",
            "locations": [{"line": 3, "column": 5}],
            "path": ["exchangeExternalCustomerToken"],
            "extensions": {"category": "graphql-authorization"},
        }],
        "data": {"exchangeExternalCustomerToken": None},
    }


def test_wrong_secret_has_no_permission(facade, integration):
    forged = Integration(name="x", consumer_key=integration.consumer_key, access_token=integration.access_token)
    answer = post(facade, SEED_MUTATION, client=oauth_client(forged))
    assert answer.messages() == ["You do not have permission to access this resource."]


def test_replayed_signed_request_is_refused(facade, integration):
    client = oauth_client(integration, nonce="fixed-nonce-0001", timestamp=None)
    assert "data" in post(facade, SEED_MUTATION, client=client).json
    assert post(facade, SEED_MUTATION, client=client).messages() == [
        "You do not have permission to access this resource."]


def test_signed_for_another_url_is_refused(facade, integration):
    client = oauth_client(integration)
    answer = post(facade, SEED_MUTATION, client=client, url="http://localhost/graphql",
                  headers={"Host": "attacker.example"})
    assert answer.categories() == ["graphql-authorization"]


def test_missing_input_is_a_clear_input_error(facade, integration):
    message = ('Field "exchangeExternalCustomerToken" argument "input" of type '
               '"ExchangeExternalCustomerTokenInput!" is required but not provided.')
    answer = post(facade, "mutation { exchangeExternalCustomerToken { token } }", integration=integration)
    assert answer.messages() == [message] and answer.categories() == [INPUT]
    answer = post(facade, "mutation { exchangeExternalCustomerToken(input: null) { token } }",
                  integration=integration)
    assert answer.messages() == [message]
    nullable = "mutation($i: ExchangeExternalCustomerTokenInput) { exchangeExternalCustomerToken(input: $i) { token } }"
    answer = post(facade, nullable, {"i": None}, integration=integration)
    assert answer.messages() == [message] and answer.json["data"] == {"exchangeExternalCustomerToken": None}


def test_variable_not_provided(facade, integration):
    answer = post(facade, VARIABLES_MUTATION, {}, integration=integration)
    assert answer.messages() == [
        'Variable "$input" of required type "ExchangeExternalCustomerTokenInput!" was not provided.']
    assert answer.categories() == [INPUT] and "data" not in answer.json


def test_data_rules_come_from_the_sequence(facade, integration):
    answer = post(facade, _literal({**SEED_CUSTOMER, "firstname": " ", "lastname": ""}), integration=integration)
    assert answer.messages() == ["Required parameters are missing: First Name, Last Name"]
    assert answer.json["errors"][0]["path"] == ["exchangeExternalCustomerToken"]


def test_unknown_store_header(facade, integration):
    answer = post(facade, SEED_MUTATION, integration=integration, headers={"Store": "nope"})
    assert answer.messages() == ["Requested store is not found"]
    assert answer.categories() == ["graphql-no-such-entity"]


def test_store_header_picks_the_website(facade, integration, store):
    post(facade, SEED_MUTATION, integration=integration, headers={"Store": "us"})
    post(facade, SEED_MUTATION, integration=integration, headers={"Store": "fr"})
    post(facade, SEED_MUTATION, integration=integration)  # default store: website base, like fr
    assert store.customer_count() == 2


# Whatever else the platform answers ----------------------------------------------------------------
@pytest.mark.parametrize("result", [
    {"error": "The action exceeded its time limits of 10000 milliseconds."},
    None,
    "text",
    {"statusCode": 200, "body": {"token": "x"}},
    {"error": {"statusCode": 502, "body": "Bad gateway"}},
    {"error": {"statusCode": 400, "body": {"errors": [{"message": "m"}]}}},
])
def test_unexpected_results_are_internal_errors(app_settings, result, caplog):
    facade = GraphQLFacade(app_settings, lambda fqn, params: result)
    with caplog.at_level(logging.ERROR, logger="customer_auth.graphql"):
        answer = post(facade, SEED_MUTATION)
    assert answer.status == 200
    assert answer.json == {
        "errors": [{
            "message": "Internal server error",
            "locations": [{"line": 3, "column": 5}],
            "path": ["exchangeExternalCustomerToken"],
            "extensions": {"category": "internal"},
        }],
        "data": {"exchangeExternalCustomerToken": None},
    }
    assert "exchangeExternalCustomerToken" in caplog.text


def test_invoke_raising_is_an_internal_error(app_settings, caplog):
    def invoke(fqn, params):
        raise TimeoutError("secret detail")

    answer = post(GraphQLFacade(app_settings, invoke), SEED_MUTATION)
    assert answer.messages() == ["Internal server error"] and b"secret detail" not in answer.raw
    assert "secret detail" in caplog.text


def test_json_string_body_and_several_errors_pass_through(app_settings):
    body = json.dumps({"errors": [{"message": "a", "extensions": {"category": INPUT}},
                                  {"message": "b", "extensions": {"category": INPUT}}]})
    facade = GraphQLFacade(app_settings, lambda fqn, params: {"error": {"statusCode": 400, "body": body}})
    answer = post(facade, SEED_MUTATION)
    assert answer.messages() == ["a", "b"]
    assert [e["path"] for e in answer.json["errors"]] == [["exchangeExternalCustomerToken"]] * 2


@pytest.mark.parametrize("style, message", [
    ("literal", "String cannot represent a non string value: 5"),
    ("variables", 'Variable "$input" got invalid value 5 at "input.customer.firstname"; '
                  "String cannot represent a non string value: 5"),
])
def test_scalar_type_errors_in_graphql_php_wording(facade, integration, style, message):
    customer = {**SEED_CUSTOMER, "firstname": 5}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.messages() == [message]
    assert answer.categories() == [INPUT] and "data" not in answer.json
    assert b"roni_cost" not in answer.raw  # the rest of the input is not echoed back


@pytest.mark.parametrize("style", ["literal", "variables"])
@pytest.mark.parametrize("password", [["Pw-Hunter2-Secret"], 12345678])
def test_a_password_of_another_type_is_refused_without_being_repeated(facade, integration, style, password):
    customer = {**SEED_CUSTOMER, "password": password}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.messages()[0].endswith("String cannot represent a non string value: [REDACTED]")
    assert b"Hunter2" not in answer.raw and b"12345678" not in answer.raw


@pytest.mark.parametrize("style", ["literal", "variables"])
@pytest.mark.parametrize("field, name, message", [
    ("firstname", "<script>alert(1)</script>", "First Name is not valid!"),
    ("lastname", "<img src=x onerror=alert(1)>", "Last Name is not valid!"),
    ("middlename", "<>", "Middle Name is not valid!"),
])
def test_names_are_checked_as_commerce_checks_them(facade, integration, store, style, field, name, message):
    customer = {**SEED_CUSTOMER, field: name}
    query, variables = (_literal(customer), None) if style == "literal" else _variables(customer)
    answer = post(facade, query, variables, integration=integration)
    assert answer.messages() == [message] and answer.categories() == [INPUT]
    assert store.find_customer(1, SEED_CUSTOMER["email"]) is None


CUSTOM_ATTRIBUTES_MUTATION = """mutation {{ exchangeExternalCustomerToken(input: {{customer: {{
  firstname: "Roni", lastname: "Cost", email: "roni_cost@example.com",
  custom_attributes: [{{attribute_code: "{code}", value: {value}}}]}}}}) {{ token }} }}"""


@pytest.mark.parametrize("style", ["literal", "variables"])
def test_a_custom_attribute_commerce_does_not_have_is_refused_by_its_code(facade, integration, store, style):
    secret = "Pw-Hunter2-Secret"
    if style == "literal":
        answer = post(facade, CUSTOM_ATTRIBUTES_MUTATION.format(code="password", value=json.dumps(secret)),
                      integration=integration)
    else:
        customer = {**SEED_CUSTOMER, "custom_attributes": [{"attribute_code": "password", "value": secret}]}
        answer = post(facade, *_variables(customer), integration=integration)
    assert answer.messages() == ['The attribute with a "password" attributeCode doesn\'t exist. '
                                 'Verify the attribute and try again.']
    assert b"Hunter2" not in answer.raw and store.find_customer(1, SEED_CUSTOMER["email"]) is None


@pytest.mark.parametrize("style", ["literal", "variables"])
def test_a_secret_attributes_value_of_another_type_is_never_repeated(facade, integration, style):
    if style == "literal":
        answer = post(facade, CUSTOM_ATTRIBUTES_MUTATION.format(code="pin", value=12345678), integration=integration)
    else:
        customer = {**SEED_CUSTOMER, "custom_attributes": [{"attribute_code": "pin", "value": 12345678}]}
        answer = post(facade, *_variables(customer), integration=integration)
    assert answer.messages()[0].endswith("String cannot represent a non string value: [REDACTED]")
    assert b"12345678" not in answer.raw


@pytest.mark.parametrize("customer, message", [
    ({**SEED_CUSTOMER, "firstname": None}, 'Variable "$input" got invalid value null at "input.customer.firstname"; '
                                           'Expected non-nullable type "String!" not to be null.'),
    (None, 'Variable "$input" got invalid value null at "input.customer"; '
           'Expected non-nullable type "CustomerCreateInput!" not to be null.'),
    ({**SEED_CUSTOMER, "is_subscribed": "yes" * 50}, 'Variable "$input" got invalid value "' + "yes" * 33
     + '… at "input.customer.is_subscribed"; Boolean cannot represent a non boolean value: "' + "yes" * 50 + '"'),
])
def test_a_null_or_wrong_variable_value_names_its_field(facade, integration, customer, message):
    """An identity provider that sends no name (Apple does, after the first sign-in) gives a null:
    the answer says which field, in graphql-php's words, not Python's."""
    answer = post(facade, *_variables(customer), integration=integration)
    assert answer.messages() == [message] and answer.categories() == [INPUT]
    assert b"None" not in answer.raw


def test_what_is_sent_where_an_object_belongs_is_never_repeated(facade, integration):
    """A customer sent as a JSON string (encoded twice) holds the shopper's data, a password too."""
    sent = json.dumps({**SEED_CUSTOMER, "password": "Pw-Hunter2-Secret"})
    answer = post(facade, VARIABLES_MUTATION, {"input": {"customer": sent}}, integration=integration)
    assert answer.messages() == ['Expected type "CustomerCreateInput" to be an object.']
    assert b"Hunter2" not in answer.raw and b"roni_cost" not in answer.raw


def test_a_huge_invalid_input_stops_at_the_error_limit(facade, integration, monkeypatch):
    """An unsigned client can send a megabyte of bad list items: coercion ends at MAX_ERRORS."""
    from customer_auth.graphql import variables

    worded, word = [], variables._message
    monkeypatch.setattr(variables, "_message", lambda *args: worded.append(args) or word(*args))
    query, values = _variables({**SEED_CUSTOMER, "custom_attributes": [{}] * 10_000})
    answer = post(facade, query, values, integration=integration)
    assert len(answer.messages()) == variables.MAX_ERRORS and set(answer.categories()) == {INPUT}
    assert len(worded) == variables.MAX_ERRORS  # not one per bad item


def test_one_exchange_per_request(facade, invoker, integration):
    """The request's signature, and its nonce, authenticate one exchange: a second alias would be
    refused as a replay after the first had run. The document is refused before anything runs."""
    body = SEED_MUTATION.strip()[len("mutation {"):-1]
    fragment = ("mutation { a: exchangeExternalCustomerToken(input: {customer: {firstname: \"A\", lastname: \"B\", "
                "email: \"a@example.com\"}}) { token } ...More }\n"
                "fragment More on Mutation { b: exchangeExternalCustomerToken(input: {customer: {firstname: \"A\", "
                "lastname: \"B\", email: \"b@example.com\"}}) { token } }")
    for document in (f"mutation {{ a: {body} b: {body} }}", fragment):
        answer = post(facade, document, integration=integration)
        assert answer.messages() == ["Only one exchangeExternalCustomerToken can be sent per request."]
        assert answer.categories() == [INPUT] and "data" not in answer.json
    assert invoker.calls == []
    # One response key is one execution (the fields merge), and another operation is another request.
    twice = post(facade, f"mutation {{ {body} {body} }}", integration=integration)
    assert "errors" not in twice.json and len(invoker.calls) == 1
    named = f"mutation A {{ {body} }}\nmutation B {{ {body} }}"
    assert "errors" not in post(facade, named, integration=integration, operation_name="B").json


@pytest.mark.parametrize("refused_body, content_type", [
    (json.dumps({"query": "mutation($i: NoSuchInput!) { exchangeExternalCustomerToken(input: $i) { token } }"}),
     "application/json"),
    (json.dumps({"query": VARIABLES_MUTATION, "variables": {"input": {"customer": {"email": "a@example.com"}}}}),
     "application/json"),
    ("not json", "text/plain"),
])
def test_a_refused_signed_request_uses_up_its_nonce(facade, invoker, integration, store, refused_body, content_type):
    """The signature covers no JSON body: a header seen on a refused request must not buy a token for
    another body later. Its signature is checked and its nonce used, as Commerce does for every request."""
    url = "http://localhost/graphql"
    _, signed, _ = oauth_client(integration).sign(url, http_method="POST", body=refused_body,
                                                  headers={"Content-Type": content_type})
    headers = {"Content-Type": content_type, "Host": "localhost", "X-Forwarded-Proto": "http",
               "Authorization": signed["Authorization"]}
    facade.handle("POST", "/graphql", "", headers, refused_body.encode())
    assert len(invoker.verified) == 1 and invoker.calls == []
    victim = {**SEED_CUSTOMER, "email": "victim@example.com"}
    again = json.dumps({"query": VARIABLES_MUTATION, "variables": {"input": {"customer": victim}}})
    _, _, raw = facade.handle("POST", "/graphql", "", {**headers, "Content-Type": "application/json"}, again.encode())
    answer = json.loads(raw)
    assert answer["errors"][0]["message"] == "You do not have permission to access this resource."
    assert store.find_customer(1, "victim@example.com") is None


def test_an_unsigned_request_costs_no_verification(facade, invoker):
    post(facade, "{ isEmailAvailable(email: \"a@example.com\") { is_email_available } }")
    post(facade, "mutation { nonsense }", headers={"Authorization": "Bearer customer-token"})
    assert invoker.verified == [] and invoker.calls == []
