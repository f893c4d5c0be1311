"""Claim 6, bad input never breaks it: random GraphQL documents (hypothesis-graphql over our schema),
variables, headers and bodies never get a 5xx from the GraphQL endpoint, never a stack trace, and every
error carries a category. Bodies over 1 MB are refused with 413, as OpenWhisk's payload limit."""
from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis_graphql import Mode, from_schema

from customer_auth.graphql.facade import SCHEMA_PATH
from customer_auth.integrations import Integration
from customer_auth.oauth1 import SignedRequest, authorization_header
from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT, oauth_client

SCHEMA = SCHEMA_PATH.read_text()
SEQUENCE = "/api/v1/web/guest/customer-auth/exchange-external-customer-token"
MUTATION = "mutation($input: ExchangeExternalCustomerTokenInput) { exchangeExternalCustomerToken(input: $input) { token customer { email } } }"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator:
    env = {"STORE_URL": f"tinydb://{tmp_path_factory.mktemp('fuzz')}/store.json", "CRYPT_KEY": CRYPT_KEY,
           "RATE_LIMIT_PER_MINUTE": "0"}
    flask_app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), state_file=None)
    flask_app.integration = store.add_integration(Integration(name="fuzz"))
    yield flask_app
    controller.shutdown()


@pytest.fixture(autouse=True)
def no_leaked_workers():
    """The module-scoped emulator keeps its warm workers between tests; its teardown stops them."""
    yield


def assert_well_formed(response) -> None:
    assert response.status_code < 500, response.data[:500]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    body = json.loads(text)
    for error in body.get("errors", []):
        assert error["extensions"]["category"], error


def signed(app, path: str, body: str) -> dict[str, str]:
    _, headers, _ = oauth_client(app.integration).sign(f"http://localhost{path}", http_method="POST", body=body,
                                                       headers={"Content-Type": "application/json"})
    return headers


@FUZZ
@given(document=from_schema(SCHEMA, mode=Mode.POSITIVE) | from_schema(SCHEMA, mode=Mode.NEGATIVE))
def test_random_documents(app, document):
    assert_well_formed(app.test_client().post("/graphql", json={"query": document}))


@FUZZ
@given(variables=JSON)
def test_random_variables(app, variables):
    assert_well_formed(app.test_client().post("/graphql", json={"query": MUTATION, "variables": {"input": variables}}))


@FUZZ
@given(customer=st.dictionaries(st.sampled_from(["email", "firstname", "lastname", "gender", "dob", "password",
                                                 "is_subscribed", "taxvat", "prefix", "xyz"]), JSON, max_size=6))
def test_random_signed_customer_input(app, customer):
    """Signed, so it reaches upsert-customer's rules: input errors, never a 5xx."""
    body = json.dumps({"query": MUTATION, "variables": {"input": {"customer": customer}}})
    assert_well_formed(app.test_client().post("/graphql", data=body, headers=signed(app, "/graphql", body)))


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream", ""]),
    store=st.text(max_size=20).filter(lambda s: "\n" not in s and "\r" not in s),
    authorization=st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s))
def test_random_bodies_and_headers(app, body, content_type, store, authorization):
    headers = {"Content-Type": content_type, "Store": store, "Authorization": authorization}
    assert_well_formed(app.test_client().post("/graphql", data=body, headers=headers))
    answer = app.test_client().post(SEQUENCE, data=body, headers=headers)
    assert answer.status_code < 500 and b"Traceback" not in answer.data


@FUZZ
@given(query=st.binary(max_size=80) | st.lists(st.sampled_from(
    [b"[", b"]", b"{", b"}", b"|", b"^", b"`", b"%", b"%2", b"%E2%9C", b"%FF", b"+", b"=", b"&", b"a", b"\xc3\xa9",
     b" ", b"\\", b'"', b"<", b"#"]), max_size=24).map(b"".join), signed_=st.booleans())
def test_random_query_strings(app, query, signed_):
    """Any query string, the raw bytes a client may send, signed over them or not: never a 5xx nor an
    internal error, and signed it verifies. RFC 5849 3.4.1.3.1 decodes the query as the server received it (WHATWG clients
    such as Node's fetch send `[ ] { } | ^` and the backtick raw)."""
    customer = {"email": "q@example.com", "firstname": "Q", "lastname": "S"}
    for path, body in (("/graphql", json.dumps({"query": MUTATION, "variables": {"input": {"customer": customer}}})),
                       (SEQUENCE, json.dumps({"customer": customer}))):
        headers, received = {"Content-Type": "application/json"}, query.decode("latin-1")  # as WSGI hands it on
        if signed_:
            url = f"http://localhost{path}?{received}"
            headers["Authorization"] = authorization_header(SignedRequest("POST", url, {}, body), app.integration,
                                                            int(time.time()), uuid.uuid4().hex)
        answer = app.test_client().post(path, data=body, headers=headers, environ_overrides={"QUERY_STRING": received})
        assert answer.status_code < 500 and b"Traceback" not in answer.data, answer.data[:300]
        assert all(e["extensions"]["category"] != "internal" for e in answer.get_json().get("errors", [])), answer.data
        if signed_:  # signed over the query as received: it verifies, whatever it holds
            assert "token" in json.dumps(answer.get_json()) and "errors" not in answer.get_json(), answer.data


@pytest.mark.parametrize("path", ["/graphql", SEQUENCE])
@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_over_1_mb_are_refused(app, path, chunked):
    """With a Content-Length or chunked (no length: the server ends the stream), a body past 1 MB is
    refused whole, never cut at 1 MB and run; /graphql answers in GraphQL's shape."""
    body = json.dumps({"query": "{ __typename }"}).encode() + b" " * (1024 * 1024)
    if chunked:
        answer = app.test_client().post(path, input_stream=io.BytesIO(body), environ_overrides={
            "wsgi.input_terminated": True}, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    else:
        answer = app.test_client().post(path, data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    if path == "/graphql":
        assert answer.get_json()["errors"][0]["message"] == "The request body is larger than 1048576 bytes."


def test_deep_and_long_documents_are_bounded(app):
    deep = "{ customer { " + "group { uid " * 30 + "}" * 30 + " } }"
    answer = app.test_client().post("/graphql", json={"query": deep}).get_json()
    assert answer["errors"][0]["extensions"]["category"] == "graphql-input"
    long = "{ " + " ".join(["__typename"] * 20000) + " }"
    answer = app.test_client().post("/graphql", json={"query": long}).get_json()
    assert answer["errors"][0]["extensions"]["category"] == "graphql-input"


@pytest.mark.parametrize("body", [
    '{"query": "{ __typename }", "operationName": "\\ud800"}',
    '{"query": "{ __typename }", "variables": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}",
])
def test_json_that_php_refuses_is_malformed(app, body):
    """An unpaired surrogate escape (no UTF-8 encoder writes it again) and nesting past 512 levels
    (json_decode's depth) are malformed JSON, as in Commerce: not a 500."""
    answer = app.test_client().post("/graphql", data=body, headers={"Content-Type": "application/json"})
    assert_well_formed(answer)
    assert answer.get_json()["errors"][0]["message"] == "Could not parse JSON: Syntax error"


def test_an_unpaired_surrogate_in_the_web_sequence_is_bad_json_and_the_worker_lives_on(app):
    body = json.dumps({"customer": {"email": "s@example.com", "firstname": "\ud800", "lastname": "L"}})
    answer = app.test_client().post(SEQUENCE, data=body, headers=signed(app, SEQUENCE, body))
    assert answer.status_code == 400 and answer.get_json()["errors"][0]["message"] == "The request body is not valid JSON."
    body = json.dumps({"customer": {"email": "s@example.com", "firstname": "F", "lastname": "L"}})
    assert app.test_client().post(SEQUENCE, data=body, headers=signed(app, SEQUENCE, body)).status_code == 200


@pytest.mark.parametrize("path", ["/graphql", SEQUENCE])
def test_a_password_sent_as_no_string_is_refused_without_being_repeated_or_kept(app, path):
    customer = {"email": "p@example.com", "firstname": "F", "lastname": "L", "password": ["Pw-Hunter2-Secret"]}
    body = json.dumps({"query": MUTATION, "variables": {"input": {"customer": customer}}} if path == "/graphql"
                      else {"customer": customer})
    answer = app.test_client().post(path, data=body, headers=signed(app, path, body))
    assert answer.get_json()["errors"][0]["message"].endswith("String cannot represent a non string value: [REDACTED]")
    controller = app.extensions["openwhisk"]
    records = json.dumps([act.to_dict() for act in controller.activations.list(limit=200)])
    assert b"Hunter2" not in answer.data and "Hunter2" not in records
