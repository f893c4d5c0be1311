"""The console's JSON routes through Flask's test client: what they show, what they never show, and the
loopback rule for the signed exchange."""
from __future__ import annotations

import json

import pytest

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.loopback import is_loopback
from emulator.console.loopback import refusal
from emulator.hosts import host_name
from emulator.startup import on_startup
from tests.conftest import CRYPT_KEY
from tests.emulator.conftest import AUTH_HEADER

LOCAL = "http://127.0.0.1:9080"  # the test client's Host, as a browser on the default port sends it
ROW = {"email": "roni_cost@example.com", "firstname": "Roni", "lastname": "Cost"}


@pytest.fixture
def client(emulator):
    return emulator[0].test_client()


def exchange(client, integration: Integration, customer=ROW, **kwargs):
    return client.post("/console/api/exchange", json={"integration": integration.id, "customer": customer},
                       base_url=LOCAL, **kwargs)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def secrets_of(integration: Integration) -> list[str]:
    return [integration.consumer_key, integration.consumer_secret, integration.access_token,
            integration.access_token_secret]


def test_page_and_assets_are_served(client):
    """A browser navigating to `/` gets the console; an API client there gets OpenWhisk's info
    document (tests/emulator/test_emulator_platform.py)."""
    page = client.get("/", base_url=LOCAL, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and b'src="/console/static/js/main.js"' in page.data
    for asset in ("js/main.js", "js/timeline.js", "js/graphql-editor.js", "console.css"):
        assert client.get(f"/console/static/{asset}", base_url=LOCAL).status_code == 200


def test_manifest_lists_actions_limits_and_the_chain_but_no_input_values(client):
    body = client.get("/console/api/manifest", base_url=LOCAL).get_json()
    package, social = body["packages"]
    assert body["namespace"] == "guest" and package["name"] == "customer-auth" and body["graphql"] is True
    assert social["name"] == "social-login" and social["sequences"][0]["components"] == [
        "social-login/verify-id-token", "social-login/exchange-customer-token"]
    actions = {a["name"]: a for a in package["actions"]}
    assert set(actions) == {"verify-oauth", "upsert-customer", "issue-token", "graphql"}
    assert {"timeout": 10000, "memory": 256, "concurrency": 1}.items() <= actions["verify-oauth"]["limits"].items()
    assert actions["graphql"]["limits"]["timeout"] == 60000 and actions["graphql"]["raw"]
    assert "CRYPT_KEY" in actions["issue-token"]["inputs"]
    sequence, = package["sequences"]
    assert sequence["components"] == ["customer-auth/verify-oauth", "customer-auth/upsert-customer",
                                      "customer-auth/issue-token"]
    assert CRYPT_KEY not in json.dumps(body)


def test_integrations_are_masked(client, development):
    text = client.get("/console/api/integrations", base_url=LOCAL).get_data(as_text=True)
    listed, = json.loads(text)
    assert listed["name"] == "development" and listed["consumer_key"] == development.consumer_key[:4] + "…" + \
        development.consumer_key[-2:]
    assert not any(secret in text for secret in secrets_of(development))


def test_integrations_say_which_may_exchange_by_the_configured_resource(client, emulator, development):
    from customer_auth.integrations import Integration

    store = emulator[2]
    acme = store.add_integration(Integration(name="acme", resources=["Acme::exchange"]))
    store.add_integration(Integration(name="all", resources=["Magento_Backend::all"]))
    listed = {i["name"]: i["may_exchange"] for i in client.get("/console/api/integrations", base_url=LOCAL).get_json()}
    assert listed == {"development": True, "acme": False, "all": True}
    emulator[0].extensions["console"].settings = lambda: {"OAUTH_REQUIRED_RESOURCE": "Acme::exchange"}
    listed = {i["name"]: i["may_exchange"] for i in client.get("/console/api/integrations", base_url=LOCAL).get_json()}
    assert listed == {"development": False, "acme": True, "all": True} and acme.id


def test_customers_search_is_a_case_insensitive_substring_and_paginated(client, emulator):
    store = emulator[2]
    store.import_customers([Customer(email=f"shopper{i:02d}@Example.com", firstname="S", lastname=str(i),
                                     website_id=1, store_id=1) for i in range(25)]
                           + [Customer(email="roni_cost@example.com", firstname="Roni", lastname="Cost",
                                       website_id=1, store_id=1, password_hash="secret-hash")])
    page1 = client.get("/console/api/customers?q=SHOPPER&per_page=10", base_url=LOCAL).get_json()
    assert (page1["total"], page1["pages"], len(page1["items"])) == (25, 3, 10)
    page3 = client.get("/console/api/customers?q=shopper&per_page=10&page=3", base_url=LOCAL).get_json()
    assert [c["email"] for c in page3["items"]] == [f"shopper{i:02d}@Example.com" for i in range(20, 25)]
    roni = client.get("/console/api/customers?q=Cost@EXAMPLE", base_url=LOCAL).get_data(as_text=True)
    assert json.loads(roni)["items"][0]["firstname"] == "Roni" and "secret-hash" not in roni
    assert client.get("/console/api/customers?q=nobody", base_url=LOCAL).get_json()["total"] == 0
    assert client.get("/console/api/customers?page=x", base_url=LOCAL).status_code == 400


def test_exchange_is_signed_goes_through_verify_oauth_and_returns_its_timeline(client, emulator, development):
    answer = exchange(client, development)
    assert answer.status_code == 200
    result = answer.get_json()
    graphql = result["response"]["body"]["data"]["exchangeExternalCustomerToken"]
    assert graphql["customer"]["email"] == ROW["email"] and graphql["token"].startswith("eyJ")
    assert result["request"]["url"] == LOCAL + "/graphql"
    assert result["request"]["headers"]["Authorization"].startswith("OAuth oauth_consumer_key=")
    sequence_id, = result["activationIds"]
    assert result["response"]["headers"]["x-openwhisk-activation-id"] == sequence_id
    names = [r["name"] for r in result["timeline"]]
    assert names == ["exchange-external-customer-token", "verify-oauth", "upsert-customer", "issue-token"]
    assert result["timeline"][0]["activationId"] == sequence_id
    assert result["timeline"][0]["logs"] == [r["activationId"] for r in result["timeline"][1:]]
    assert all(r["statusCode"] == 0 and r["end"] >= r["start"] for r in result["timeline"])
    assert any("authenticated" in line for line in result["timeline"][1]["logs"])
    # The masked request and the redacted records hold none of the integration's secrets.
    assert not any(secret in json.dumps(result) for secret in secrets_of(development))
    # The same records through the console's activation routes.
    timeline = client.get(f"/console/api/activations/{sequence_id}/timeline", base_url=LOCAL).get_json()
    assert [r["name"] for r in timeline["items"]] == names
    assert emulator[2].customer_count() == 1


def test_a_refused_signature_shows_verify_oauth_failing(client, emulator, development):
    development.token_revoked = True
    emulator[2].save_integration(development)
    result = exchange(client, development).get_json()
    assert "errors" in result["response"]["body"]
    assert [(r["name"], r["statusCode"]) for r in result["timeline"]] == [
        ("exchange-external-customer-token", 1), ("verify-oauth", 1)]


def test_a_refusal_reads_as_commerce_wrote_it_and_says_why_in_the_log(client, emulator, development):
    """The answer keeps Commerce's key order (errors first, message first), and verify-oauth's log
    keeps the refusal's reason readable (only header values and secrets are redacted)."""
    development.resources = []
    emulator[2].save_integration(development)
    raw = exchange(client, development).get_data(as_text=True)
    body = json.loads(raw)["response"]["body"]
    assert list(body) == ["errors", "data"] and list(body["errors"][0])[0] == "message"
    verify = next(r for r in json.loads(raw)["timeline"] if r["name"] == "verify-oauth")
    assert any("graphql-authorization: integration" in line and "lacks the resource" in line
               for line in verify["logs"]), verify["logs"]


def test_the_exchange_takes_a_store(client, development):
    result = client.post("/console/api/exchange", base_url=LOCAL,
                         json={"integration": development.id, "customer": ROW, "store": "nowhere"}).get_json()
    assert result["request"]["headers"]["Store"] == "nowhere"
    assert result["response"]["body"]["errors"][0]["message"] == "Requested store is not found"


def test_customers_past_the_last_page_get_the_last_page(client, emulator):
    emulator[2].import_customers([Customer(email=f"c{i}@example.com", firstname="C", lastname="D", website_id=1,
                                           store_id=1) for i in range(3)])
    answer = client.get("/console/api/customers?q=example&per_page=2&page=99", base_url=LOCAL).get_json()
    assert (answer["page"], answer["pages"], [c["email"] for c in answer["items"]]) == (2, 2, ["c2@example.com"])
    nothing = client.get("/console/api/customers?q=zzz&page=2", base_url=LOCAL).get_json()
    assert (nothing["page"], nothing["pages"], nothing["total"]) == (1, 1, 0)


def test_activations_newest_first_filtered_by_name_and_status(client, development):
    exchange(client, development)
    everything = client.get("/console/api/activations", base_url=LOCAL).get_json()
    assert everything["total"] == 4 and everything["items"][0]["kind"] == "sequence"
    assert everything["items"] == sorted(everything["items"], key=lambda r: r["end"], reverse=True)
    upsert = client.get("/console/api/activations?name=customer-auth/upsert-customer", base_url=LOCAL).get_json()
    assert [r["name"] for r in upsert["items"]] == ["upsert-customer"]
    assert client.get("/console/api/activations?status=success", base_url=LOCAL).get_json()["total"] == 4
    assert client.get("/console/api/activations?status=application-error", base_url=LOCAL).get_json()["total"] == 0
    assert client.get("/console/api/activations?status=0&limit=1", base_url=LOCAL).get_json()["items"][0]["kind"] \
        == "sequence"
    assert client.get("/console/api/activations?status=bad", base_url=LOCAL).status_code == 400
    one = everything["items"][1]
    assert client.get(f"/console/api/activations/{one['activationId']}", base_url=LOCAL).get_json() == one
    assert client.get("/console/api/activations/nope", base_url=LOCAL).status_code == 404


def test_the_editor_signing_route_signs_what_the_browser_sends(client, development):
    body = json.dumps({"query": "mutation { exchangeExternalCustomerToken(input: {customer: "
                                "{email: \"a@example.com\" firstname: \"A\" lastname: \"B\"}}) { token } }"})
    signed = client.post("/console/api/sign", json={"integration": development.id, "body": body},
                         base_url=LOCAL).get_json()
    answer = client.post("/graphql", data=body, base_url=LOCAL,
                         headers={"Content-Type": "application/json", "Authorization": signed["authorization"]})
    assert answer.get_json()["data"]["exchangeExternalCustomerToken"]["token"].startswith("eyJ")
    assert answer.headers["x-openwhisk-activation-id"]


@pytest.mark.parametrize("path", ["/console/api/exchange", "/console/api/sign"])
@pytest.mark.parametrize("request_kwargs, why", [
    ({"environ_overrides": {"SERVER_NAME": "0.0.0.0"}}, "listens on 0.0.0.0"),
    ({"environ_overrides": {"REMOTE_ADDR": "192.0.2.7"}}, "comes from 192.0.2.7"),
    ({"headers": {"X-Forwarded-For": "198.51.100.1"}}, "forwarded from another machine"),
    ({"headers": {"Host": "evil.example:9080"}}, "host evil.example is not allowed"),  # DNS rebinding
])
def test_signing_routes_refuse_anything_not_local_with_403(client, emulator, development, path, request_kwargs, why):
    kwargs = {"base_url": LOCAL, **request_kwargs}
    body = {"integration": development.id, "customer": ROW, "body": "{}"}
    refused = client.post(path, json=body, **kwargs)
    assert refused.status_code == 403
    assert why in refused.get_json()["error"] and "loopback" in refused.get_json()["error"]
    # Not even the API key opens them, and nothing ran.
    headers = {**kwargs.pop("headers", {}), "Authorization": AUTH_HEADER}
    assert client.post(path, json=body, headers=headers, **kwargs).status_code == 403
    assert len(emulator[1].activations) == 0


def test_read_routes_elsewhere_want_the_api_key(client, development):
    remote = {"base_url": LOCAL, "environ_overrides": {"REMOTE_ADDR": "192.0.2.7"}}
    refused = client.get("/console/api/integrations", **remote)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert "API key" in refused.get_json()["error"] and "192.0.2.7, not from this machine" in refused.get_json()["error"]
    everywhere = client.get("/console/api/integrations", base_url=LOCAL, environ_overrides={"SERVER_NAME": "0.0.0.0"})
    assert everywhere.status_code == 401 and everywhere.get_json()["error"] == (
        "Without the OpenWhisk API key (basic auth), the console's API answers only a browser on this machine "
        "with the emulator listening on loopback: the emulator listens on 0.0.0.0, not on loopback only "
        "(restart it with --host 127.0.0.1).")
    assert client.get("/console/api/integrations", headers={"Authorization": AUTH_HEADER}, **remote).status_code == 200


def test_get_graphql_from_a_browser_opens_the_editor_and_stays_graphql_otherwise(client):
    browser = client.get("/graphql", base_url=LOCAL,
                         headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.status_code == 200 and browser.mimetype == "text/html" and b"graphql-editor.js" in browser.data
    query = client.get("/graphql?query={__typename}", base_url=LOCAL, headers={"Accept": "text/html"})
    assert query.mimetype == "application/json" and query.get_json() == {"data": {"__typename": "Query"}}
    plain = client.get("/graphql", base_url=LOCAL)  # no Accept: a GraphQL client, told what is missing
    assert plain.status_code == 400 and "errors" in plain.get_json()
    as_json = client.get("/graphql", base_url=LOCAL, headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and "errors" in as_json.get_json()


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("example.com", False),
    ("", False),
])
def test_is_loopback(host, local):
    assert is_loopback(host) is local


def test_host_name_and_refusal():
    assert [host_name(h) for h in ("127.0.0.1:9080", "[::1]:9080", "LocalHost", "::1")] == [
        "127.0.0.1", "::1", "localhost", "::1"]
    local = {"SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost:9080"}
    assert refusal(local) is None
    assert "from 192.0.2.7" in refusal({**local, "REMOTE_ADDR": "192.0.2.7"})


def test_startup_prints_the_console_first(emulator):
    _, controller, store = emulator
    lines = on_startup(controller, "http://127.0.0.1:9080", store)
    assert lines[0].startswith("console       http://127.0.0.1:9080/ ")
    assert any("Run exchange in http://127.0.0.1:9080/" in line for line in lines)
