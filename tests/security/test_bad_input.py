"""Claim 6, bad input never breaks it: random GraphQL documents (hypothesis-graphql over our schema),
variables, headers and bodies never get a 5xx from the GraphQL endpoint, never a stack trace, and every
error carries a category. Bodies over 1 MB are refused with 413, as OpenWhisk's payload limit. The
REST API's and the console's routes answer any JSON, query and body with a 4xx in their own shape,
and a body the HTTP server cannot read (a malformed chunked one) is a 4xx on every server."""
from __future__ import annotations

import base64
import io
import json
import socket
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
from emulator.rest_api import GUEST_KEY
from tests.conftest import CRYPT_KEY, ROOT, emulator_process, oauth_client

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
@given(forwarded=st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s),
       path=st.sampled_from(["/graphql", SEQUENCE]))
def test_random_forwarded_hosts_of_signed_requests(app, forwarded, path):
    """The signed URL's host comes from X-Forwarded-Host: one that makes no URL is a refusal."""
    customer = {"email": "f@example.com", "firstname": "F", "lastname": "L"}
    body = json.dumps({"query": MUTATION, "variables": {"input": {"customer": customer}}} if path == "/graphql"
                      else {"customer": customer})
    answer = app.test_client().post(path, data=body, headers={**signed(app, path, body), "X-Forwarded-Host": forwarded})
    assert answer.status_code < 500, answer.data[:300]


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


# The REST API and the console's API ------------------------------------------------------------------
KEY_HEADER = "Basic " + base64.b64encode(GUEST_KEY.encode()).decode()
QUERY = st.dictionaries(st.sampled_from(["limit", "skip", "since", "upto", "docs", "count", "name", "q", "page",
                                         "per_page", "status", "blocking", "result", "timeout", "overwrite", "code"]),
                        st.text(max_size=12) | st.integers().map(str) | st.sampled_from(["1e999", "NaN", "²", "-0"]),
                        max_size=5)
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])


def assert_refused_in_shape(response) -> None:
    """A 4xx (or a success) in the route's JSON shape, never a 5xx nor an HTML page."""
    assert response.status_code < 500, response.data[:500]
    body = json.loads(response.get_data(as_text=True))
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and body["code"], body


@FUZZ
@given(path=st.sampled_from(["/api/v1/namespaces/guest/actions/fuzz/a", "/api/v1/namespaces/guest/packages/fuzz",
                             "/api/v1/namespaces/guest/actions/nowhere/none"]),
       method=st.sampled_from(["PUT", "POST"]), body=JSON, content_type=CONTENT_TYPES, query=QUERY)
def test_random_rest_api_writes(app, path, method, body, content_type, query):
    """Deployments and invokes (of an action that is not there) with any JSON, any query."""
    data = json.dumps(body) if not isinstance(body, dict) else json.dumps({"exec": {"kind": "python:3.11"}, **body})
    answer = app.test_client().open(path, method=method, data=data, query_string=query,
                                    headers={"Authorization": KEY_HEADER, "Content-Type": content_type})
    assert_refused_in_shape(answer)


@FUZZ
@given(path=st.sampled_from(["/api/v1/namespaces/guest/activations", "/api/v1/namespaces/guest/actions",
                             "/api/v1/namespaces/guest/packages", "/console/api/customers",
                             "/console/api/activations", "/console/api/activations/" + "0" * 32]),
       query=QUERY)
def test_random_listing_queries(app, path, query):
    answer = app.test_client().get(path, query_string=query, headers={"Authorization": KEY_HEADER})
    assert_refused_in_shape(answer)


@FUZZ
@given(path=st.sampled_from(["/console/api/exchange", "/console/api/sign"]),
       body=st.fixed_dictionaries({}, optional={"integration": JSON | st.sampled_from([1, "1", 1e308, -1, 2**64]),
                                                "customer": JSON, "store": JSON, "body": JSON}),
       raw=st.none() | st.binary(max_size=200), content_type=CONTENT_TYPES)
def test_random_console_posts(app, path, body, raw, content_type):
    """The console's signing routes with any JSON (an id as a float, too big, text), or any bytes."""
    data = raw if raw is not None else json.dumps(body)
    answer = app.test_client().post(path, data=data, headers={"Content-Type": content_type})
    assert_refused_in_shape(answer)


@pytest.mark.parametrize("body", ['{"integration": 1e999, "customer": {}}', '{"integration": NaN, "customer": {}}',
                                  '{"integration": 1.5, "customer": {}}', '{"integration": "' + "9" * 5000 + '"}',
                                  "[" * 100_000 + "]" * 100_000])
def test_console_numbers_and_nesting_are_input_errors(app, body):
    answer = app.test_client().post("/console/api/exchange", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["code"] == 400, answer.data[:300]


@pytest.mark.parametrize("path", ["/api/v1/namespaces/guest/packages/deep", "/api/v1/web/guest/fuzz/none"])
def test_deep_json_to_the_rest_api_and_web_actions_is_malformed_not_a_crash(app, path):
    answer = app.test_client().put(path, data="[" * 100_000 + "]" * 100_000,
                                   headers={"Authorization": KEY_HEADER, "Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500 and "error" in answer.get_json()


# A malformed chunked body, on each HTTP server -----------------------------------------------------------
# The web sequence answers in OpenWhisk's shape when its gateway refuses the body, in Commerce's when
# its actions got what the server could read (granian) and refused that.
CHUNKED_ROUTES = [("/graphql", "graphql"), (SEQUENCE, "web"), ("/console/api/exchange", "console"),
                  ("/api/v1/namespaces/guest/actions/chunked/a", "openwhisk")]


def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("server", ["flask", "gunicorn", "granian"])
def test_a_malformed_chunked_body_is_a_4xx_in_the_routes_shape(tmp_path, server):
    """`Transfer-Encoding: chunked` then `ZZ\\r\\nabc` (no chunk size), through real sockets: werkzeug's
    server and gunicorn raise from the body's read, granian hands on what it could read; every route
    answers 4xx in its own shape."""
    with emulator_process(tmp_path, server=server) as emulator:
        for path, shape in CHUNKED_ROUTES:
            method = "PUT" if "/actions/" in path else "POST"
            status, body = raw_request(emulator.port, (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\nContent-Type: application/json\r\n"
                f"Authorization: {KEY_HEADER}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nabc"
            ).encode())
            assert 400 <= status < 500, (server, path, status, body[:300])
            answer = json.loads(body)
            if shape == "graphql" or (shape == "web" and "errors" in answer):
                assert answer["errors"][0]["extensions"]["category"], answer
            else:
                assert isinstance(answer["error"], str) and answer["code"], answer
