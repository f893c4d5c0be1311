"""Commerce over real HTTP: an answer that is not a GraphQL answer is `commerce-unavailable`, never an
internal error, whatever Commerce (or what stands at COMMERCE_GRAPHQL_URL) sends."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from customer_auth.integrations import Integration
from social_login.commerce import Commerce
from social_login.refusals import CommerceUnavailable
from tests.social.conftest import canned_server

JSON = {"Content-Type": "application/json"}
ANSWERS = {
    "/html": (502, {"Content-Type": "text/html"}, "<html>Bad gateway</html>"),
    "/deep": (200, JSON, '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}"),  # past any JSON reader's stack
    "/list": (200, JSON, "[]"),
    "/no-data": (200, JSON, '{"data": null}'),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with canned_server(ANSWERS) as base:
        yield base


@pytest.mark.parametrize("path, why", [("/html", "HTTP 502 without a GraphQL answer"),
                                       ("/deep", "HTTP 200 without a GraphQL answer"),
                                       ("/list", "HTTP 200 without a GraphQL answer"),
                                       ("/no-data", "HTTP 200 without data")])
def test_what_is_no_graphql_answer(server, path, why):
    commerce = Commerce(server + path, Integration(name="commerce"))
    with pytest.raises(CommerceUnavailable) as caught:
        commerce.email_available("ada@example.com", "default")
    assert why in caught.value.reason
