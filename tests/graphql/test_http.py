"""GraphQL over HTTP: request errors, GET, limits, the document cache, the Flask route."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from flask import Flask

from customer_auth.graphql import GraphQLFacade
from emulator.graphql_routes import register
from tests.graphql.conftest import SEED_MUTATION, get, post

EMAIL_QUERY = '{ isEmailAvailable(email: "a@example.com") { is_email_available } }'


def _handle(facade, method="POST", body=b"", headers=None, query_string=""):
    headers = {"Content-Type": "application/json"} if headers is None else headers
    status, out_headers, raw = facade.handle(method, "/graphql", query_string, headers, body)
    return status, out_headers, json.loads(raw)


def _bad_request(body, message, status=400):
    assert body == {"errors": [{"message": message, "extensions": {"category": "graphql-input"}}]}


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"not json"])
def test_malformed_json_is_400(facade, body):
    status, headers, answer = _handle(facade, body=body)
    assert status == 400 and headers["Content-Type"] == "application/json"
    _bad_request(answer, "Could not parse JSON: Syntax error")


@pytest.mark.parametrize("payload,message", [
    ({}, 'GraphQL Request must include at least one of those two parameters: "query" or "queryId"'),
    ({"query": ""}, 'GraphQL Request must include at least one of those two parameters: "query" or "queryId"'),
    ({"query": 5}, 'GraphQL Request parameter "query" must be string, but got a number.'),
    ({"query": EMAIL_QUERY, "variables": [1]}, 'GraphQL Request parameter "variables" must be object, but got an array.'),
    ({"query": EMAIL_QUERY, "operationName": 1},
     'GraphQL Request parameter "operationName" must be string, but got a number.'),
    ([{"query": EMAIL_QUERY}], "GraphQL Server expects a JSON object, but got an array."),
])
def test_not_a_graphql_request_is_400(facade, payload, message):
    status, _, answer = _handle(facade, body=json.dumps(payload).encode())
    assert status == 400
    _bad_request(answer, message)


def test_content_type_must_be_json(facade):
    status, _, answer = _handle(facade, body=b"query=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    _bad_request(answer, "Request content type must be application/json")
    status, _, _ = _handle(facade, body=json.dumps({"query": EMAIL_QUERY}).encode(),
                           headers={"content-type": "application/json; charset=utf-8"})
    assert status == 200


def test_other_methods_are_405(facade):
    status, headers, _ = _handle(facade, method="PUT")
    assert status == 405 and headers["Allow"] == "GET, POST"


def test_get_query(facade):
    answer = get(facade, urlencode({"query": EMAIL_QUERY}))
    assert answer.status == 200
    assert answer.json == {"data": {"isEmailAvailable": {"is_email_available": True}}}


def test_get_with_variables_and_operation_name(facade):
    query = "query A { __typename } query B($e: String!) { isEmailAvailable(email: $e) { is_email_available } }"
    answer = get(facade, urlencode({"query": query, "variables": json.dumps({"e": "a@example.com"}),
                                    "operationName": "B"}))
    assert answer.json == {"data": {"isEmailAvailable": {"is_email_available": True}}}
    assert get(facade, urlencode({"query": query, "variables": "{"})).status == 400


def test_get_mutation_is_405(facade, invoker):
    answer = get(facade, urlencode({"query": SEED_MUTATION}))
    assert answer.status == 405 and answer.headers["Allow"] == "POST"
    assert answer.messages() == ["Mutation requests allowed only for POST requests"]
    assert invoker.calls == []


def test_get_without_query_is_400(facade):
    assert get(facade, "").status == 400


def test_operation_selection(facade):
    query = "query A { __typename } query B { __typename }"
    assert post(facade, query).messages() == ["Must provide operation name if query contains multiple operations."]
    assert post(facade, query, operation_name="C").messages() == ['Unknown operation named "C".']
    assert post(facade, query, operation_name="B").json == {"data": {"__typename": "Query"}}


def test_syntax_error(facade):
    answer = post(facade, "{ customer { email }")
    assert answer.status == 200 and "data" not in answer.json
    assert answer.json["errors"][0]["message"].startswith("Syntax Error:")
    assert answer.categories() == ["graphql-input"]
    assert list(answer.json["errors"][0]) == ["message", "locations", "extensions"]


def test_unknown_field_is_worded_like_graphql_php(facade):
    answer = post(facade, "{ custmer { email } }")
    assert answer.messages() == ['Cannot query field "custmer" on type "Query".']


# Limits ------------------------------------------------------------------------------------------
# Depth 3: customer > custom_attributes > selected_options (an inline fragment adds no depth)
DEPTH_3 = "{ customer { custom_attributes { ... on AttributeSelectedOptions { selected_options { label } } } } }"


def test_depth_limit(app_settings, invoker):
    facade = GraphQLFacade({**app_settings, "GRAPHQL_MAX_DEPTH": "2"}, invoker)
    ok = post(facade, "{ customer { group { uid } } }")
    assert ok.messages() == ["The current customer isn't authorized."]  # depth 2 runs
    deep = post(facade, DEPTH_3)
    assert deep.messages() == ["Max query depth should be 2 but got 3."]
    assert deep.categories() == ["graphql-input"] and "data" not in deep.json


def test_depth_counts_through_fragments(app_settings, invoker):
    facade = GraphQLFacade({**app_settings, "GRAPHQL_MAX_DEPTH": "2"}, invoker)
    query = ("{ ...Q } fragment Q on Query { customer { ...C } } "
             "fragment C on Customer { custom_attributes { ... on AttributeSelectedOptions { selected_options { label } } } }")
    assert post(facade, query).messages() == ["Max query depth should be 2 but got 3."]
    cyclic = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    assert post(facade, cyclic).categories() == ["graphql-input"]  # validation's cycle error, no hang


def test_default_depth_allows_introspection(facade):
    from graphql import get_introspection_query

    answer = post(facade, get_introspection_query())
    assert "errors" not in answer.json
    assert answer.json["data"]["__schema"]["mutationType"]["name"] == "Mutation"


def test_document_length_limit(facade):
    query = "{ __typename }" + " " * 10_000
    answer = post(facade, query)
    assert answer.messages() == ["The query document is too long: the limit is 10000 characters."]
    assert answer.categories() == ["graphql-input"] and "data" not in answer.json
    assert facade.cache_info().currsize == 0


def test_token_limit(facade):
    query = "{ " + "a " * 1001 + "}"
    answer = post(facade, query)
    assert answer.messages() == ["Syntax Error: Document contains more than 1000 tokens. Parsing aborted."]
    assert answer.categories() == ["graphql-input"]


# The document cache ----------------------------------------------------------------------------------
def test_repeated_document_is_parsed_once(facade, monkeypatch):
    from customer_auth.graphql import documents

    parses = []
    real_parse = documents.parse
    monkeypatch.setattr(documents, "parse", lambda *a, **k: parses.append(a[0]) or real_parse(*a, **k))
    for _ in range(3):
        assert post(facade, EMAIL_QUERY).json["data"]
    info = facade.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 2, 1)
    assert parses == [EMAIL_QUERY]


def test_invalid_documents_are_cached_too(facade):
    for _ in range(2):
        assert post(facade, "{ custmer }").categories() == ["graphql-input"]
    assert facade.cache_info().hits == 1


def test_cached_errors_are_not_shared(facade):
    first = facade.execute("{ custmer }")
    first["errors"][0]["message"] = "changed"
    assert facade.execute("{ custmer }")["errors"][0]["message"] == 'Cannot query field "custmer" on type "Query".'


# Never raises --------------------------------------------------------------------------------------
def test_broken_settings_are_internal_errors(invoker, caplog):
    facade = GraphQLFacade({"CRYPT_KEY": "k", "GUEST_CHECKOUT_LOGIN": "true"}, invoker)  # no STORE_URL
    answer = post(facade, EMAIL_QUERY)
    assert answer.status == 200
    assert answer.json == {
        "errors": [{
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["isEmailAvailable"],
            "extensions": {"category": "internal"},
        }],
        "data": {"isEmailAvailable": None},
    }
    assert "STORE_URL" in caplog.text


def test_handle_never_raises(facade, monkeypatch):
    monkeypatch.setattr(facade, "_run", lambda *a: 1 / 0)
    status, headers, raw = facade.handle("POST", "/graphql", "", {"Content-Type": "application/json"},
                                         json.dumps({"query": EMAIL_QUERY}).encode())
    assert status == 500 and b"Traceback" not in raw and b"ZeroDivision" not in raw
    assert json.loads(raw) == {"errors": [{"message": "Internal server error", "extensions": {"category": "internal"}}]}


# The Flask route ---------------------------------------------------------------------------------------
def test_flask_route(facade, integration):
    app = Flask("test")
    register(app, lambda: facade)
    client = app.test_client()
    answer = client.get("/graphql", query_string={"query": EMAIL_QUERY})
    assert answer.status_code == 200 and answer.json == {"data": {"isEmailAvailable": {"is_email_available": True}}}
    assert client.get("/graphql", query_string={"query": SEED_MUTATION}).status_code == 405
    assert client.put("/graphql").status_code == 405
    assert client.post("/graphql", data="{", content_type="application/json").status_code == 400

    from tests.conftest import oauth_client

    payload = json.dumps({"query": SEED_MUTATION})
    _, signed, _ = oauth_client(integration).sign("http://localhost/graphql", http_method="POST", body=payload,
                                                 headers={"Content-Type": "application/json"})
    answer = client.post("/graphql", data=payload, content_type="application/json",
                         headers={"Authorization": signed["Authorization"]})
    assert answer.status_code == 200
    assert answer.json["data"]["exchangeExternalCustomerToken"]["customer"]["email"] == "roni_cost@example.com"
