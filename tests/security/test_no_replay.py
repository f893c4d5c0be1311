"""Claim 3, no replay: 32 concurrent requests carrying one signed header, exactly one succeeds; through
a real HTTP server with several warm workers per action, on both storage backends."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from customer_auth.integrations import Integration
from tests.conftest import SEED_CUSTOMER, oauth_client

MUTATION = "mutation($input: ExchangeExternalCustomerTokenInput!) { exchangeExternalCustomerToken(input: $input) { token } }"


@pytest.mark.parametrize("path", ["/graphql", "/api/v1/web/guest/customer-auth/exchange-external-customer-token"])
def test_one_signed_header_succeeds_once(emulator, served, path):
    integration = emulator[2].add_integration(Integration(name="replayed"))
    graphql = path == "/graphql"
    body = json.dumps({"query": MUTATION, "variables": {"input": {"customer": SEED_CUSTOMER}}} if graphql
                      else {"customer": SEED_CUSTOMER})
    _, headers, _ = oauth_client(integration).sign(served + path, http_method="POST", body=body,
                                                   headers={"Content-Type": "application/json"})

    def send(_: int) -> bool:
        answer = requests.post(served + path, data=body, headers=headers, timeout=60)
        data = answer.json()
        ok = bool(data.get("data", {}).get("exchangeExternalCustomerToken")) if graphql else answer.status_code == 200
        if not ok:
            assert data["errors"][0]["message"] == "You do not have permission to access this resource."
        return ok

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(send, range(32)))
    assert outcomes.count(True) == 1
