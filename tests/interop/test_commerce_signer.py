"""Adobe's Commerce signer (@adobe/aio-commerce-lib-auth 1.1.3, unmodified) signs requests with real
query strings, which Node's fetch sends with `[ ] { } | ^` and the backtick unencoded: its base string
is ours for any query (RFC 5849 section 3.4.1.3.1, the query as the server received it), and its
exchanges get a customer token from the emulator's /graphql and web sequence."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from customer_auth.integrations import Integration
from customer_auth.oauth1 import HMAC_SHA256, SignedRequest, parse_authorization, signature
from customer_auth.store import open_store
from tests.conftest import ROOT, SEED_CUSTOMER
from tests.interop.conftest import MUTATION, NodeClients, credentials, emulator_process

SEQUENCE = "/api/v1/web/guest/customer-auth/exchange-external-customer-token"
QUERIES = [
    "searchCriteria[pageSize]=5",
    "searchCriteria[filter_groups][0][filters][0][field]=email&searchCriteria[filter_groups][0][filters][0][value]=%25",
    "x={a}|b^c`d&empty=&bare",
    "a=b+c&a=b%20c&a=%2B",  # one name three times; `+` is a space, %2B a plus
    "q=100%&r=%zz&s=%E2%9C%93&t=%FF",  # stray percent signs, UTF-8, a byte that is none
    "city=Saint-\u00c9tienne&note=two words",  # fetch encodes these; the signer signed them decoded
]
INTEGRATION = Integration(name="aio-commerce")


@pytest.fixture(scope="module")
def commerce(tmp_path_factory) -> Iterator[tuple[str, Integration]]:
    """The emulator over the project's app.config.yaml, and an integration of its store."""
    workdir = tmp_path_factory.mktemp("commerce")
    store_url = f"tinydb://{workdir}/store.json"  # the emulator's store (conftest.emulator_process)
    integration = open_store(store_url).add_integration(Integration(name=INTEGRATION.name))
    with emulator_process(ROOT / "app.config.yaml", workdir) as running:
        yield running.base, integration


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
       | st.lists(st.sampled_from(["[", "]", "{", "}", "|", "^", "`", "%", "%2", "%41", "+", "=", "&", " ", "a",
                                   "\u00e9", "'", '"', "<", ">", "\\", ";", "~", "!", "*", "(", ")", "?", "/"]),
                  max_size=30).map("".join))
def test_the_signers_base_string_is_ours_for_any_query(node_clients: NodeClients, query: str) -> None:
    """Whatever a developer puts in the URL, the signature the signer sends is the one verify-oauth
    computes over the URL fetch sends (its fragment never leaves the client)."""
    creds = credentials(INTEGRATION)
    signed = node_clients.ask({"op": "sign", "credentials": creds, "method": "POST",
                               "url": f"http://127.0.0.1:9080/graphql?{query}"})
    oauth = parse_authorization(signed["authorization"].removeprefix("OAuth "))
    sent = signed["url"].partition("#")[0]
    unsigned = {k: v for k, v in oauth.items() if k != "oauth_signature"}
    request = SignedRequest("POST", sent, {"content-type": "application/json"})
    assert signature(request, unsigned, HMAC_SHA256, INTEGRATION.consumer_secret,
                     INTEGRATION.access_token_secret) == oauth["oauth_signature"], sent


@pytest.mark.parametrize("query", QUERIES)
def test_the_signers_exchanges_get_a_token(commerce, node_clients: NodeClients, query: str) -> None:
    base, integration = commerce
    exchanges = [
        (f"{base}/graphql?{query}", {"query": MUTATION, "variables": {"customer": SEED_CUSTOMER}}),
        (f"{base}{SEQUENCE}?{query}", {"customer": SEED_CUSTOMER}),
    ]
    for url, body in exchanges:
        assert node_clients.exchange(integration, url, body)["email"] == SEED_CUSTOMER["email"]
