"""Fixtures for the GraphQL facade: the real web sequence composed in-process, signed HTTP requests.

No mock of our own code: `invoke` runs the three real actions the way an OpenWhisk sequence does
(each component gets its settings with the previous result merged over them; the first `error`
result ends the sequence).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

from customer_auth.graphql import EXCHANGE_SEQUENCE, VERIFY_OAUTH, GraphQLFacade
from customer_auth.integrations import Integration
from tests.conftest import oauth_client, settings

SEQUENCE = ("verify-oauth", "upsert-customer", "issue-token")
URL = "http://localhost/graphql"
SEED_MUTATION = """
mutation {
    exchangeExternalCustomerToken(
        input: {
            customer: {
                firstname: "Roni"
                lastname: "Cost"
                email: "roni_cost@example.com"
                is_subscribed: false
            }
        }
    ) {
        customer {
            email
            firstname
            lastname
            is_subscribed
        }
        token
    }
}
"""
VARIABLES_MUTATION = """
mutation Exchange($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) { customer { email firstname lastname is_subscribed } token }
}
"""


@dataclass
class SequenceInvoker:
    """`invoke(fqn, params)` for the exchange web sequence, running the real actions in this process."""

    actions: dict[str, ModuleType]
    settings: dict[str, Any]
    calls: list[dict[str, Any]] = field(default_factory=list)  # the sequence's
    verified: list[dict[str, Any]] = field(default_factory=list)  # verify-oauth's alone (a refused request)

    def __call__(self, fqn: str, params: dict[str, Any]) -> dict[str, Any]:
        assert fqn in (EXCHANGE_SEQUENCE, VERIFY_OAUTH), fqn
        steps = SEQUENCE if fqn == EXCHANGE_SEQUENCE else SEQUENCE[:1]
        (self.calls if fqn == EXCHANGE_SEQUENCE else self.verified).append(params)
        payload = params
        for name in steps:
            payload = self.actions[name].main({**self.settings, **payload})
            if "error" in payload:
                break
        return payload


@pytest.fixture
def app_settings(store_url: str) -> dict[str, Any]:
    return settings(store_url, STORES="default:base,fr:base,us:us", DEFAULT_STORE="default")


@pytest.fixture
def invoker(actions, app_settings) -> SequenceInvoker:
    return SequenceInvoker(actions, app_settings)


@pytest.fixture
def facade(app_settings, invoker) -> GraphQLFacade:
    return GraphQLFacade(app_settings, invoker)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def messages(self) -> list[str]:
        return [e["message"] for e in self.json["errors"]]

    def categories(self) -> list[str]:
        return [e["extensions"]["category"] for e in self.json["errors"]]


Post = Callable[..., Answer]


def post(
    facade: GraphQLFacade,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    integration: Integration | None = None,
    headers: dict[str, str] | None = None,
    url: str = URL,
    operation_name: str | None = None,
    client: Any = None,
) -> Answer:
    """POSTs a GraphQL request to `facade.handle`, OAuth 1.0a-signed for `url` when an integration is given."""
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    payload = json.dumps(body)
    parts = urlsplit(url)
    all_headers = {"Content-Type": "application/json", "Host": parts.netloc, "X-Forwarded-Proto": parts.scheme}
    if integration is not None or client is not None:
        client = client or oauth_client(integration)
        _, signed, _ = client.sign(url, http_method="POST", body=payload,
                                   headers={"Content-Type": "application/json"})
        all_headers["Authorization"] = signed["Authorization"]
    all_headers.update(headers or {})
    status, out_headers, raw = facade.handle("POST", parts.path, parts.query, all_headers, payload.encode())
    return Answer(status, out_headers, raw)


def get(facade: GraphQLFacade, query_string: str, headers: dict[str, str] | None = None) -> Answer:
    status, out_headers, raw = facade.handle("GET", "/graphql", query_string, headers or {}, b"")
    return Answer(status, out_headers, raw)
