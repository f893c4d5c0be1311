"""The exchange end to end through the emulator: GraphQL and the web sequence, real workers, activations."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests

from customer_auth.integrations import Integration
from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT, SEED_CUSTOMER, also_through_pgbouncer, oauth_client, token_customer_id
from tests.emulator.conftest import AUTH_HEADER

OW_AUTH = {"Authorization": AUTH_HEADER}  # the namespaces API takes the guest key, as wsk sends it

SEED_MUTATION = """mutation {
    exchangeExternalCustomerToken(
        input: {customer: {firstname: "Roni" lastname: "Cost" email: "roni_cost@example.com" is_subscribed: false}}
    ) { customer { email firstname lastname is_subscribed } token }
}"""
SEQUENCE_PATH = "/api/v1/web/guest/customer-auth/exchange-external-customer-token"


def signed(integration: Integration, url: str, body: dict) -> tuple[str, dict[str, str]]:
    payload = json.dumps(body)
    _, headers, _ = oauth_client(integration).sign(url, http_method="POST", body=payload,
                                                   headers={"Content-Type": "application/json"})
    return payload, headers


def post(client, integration, path, body, base="http://localhost"):
    payload, headers = signed(integration, base + path, body)
    return client.post(path, data=payload, headers=headers)


@pytest.fixture
def integration(emulator) -> Integration:
    return emulator[2].add_integration(Integration(name="storefront"))


def test_seed_example_then_customer_query(emulator, integration):
    app, controller, store = emulator
    client = app.test_client()
    answer = post(client, integration, "/graphql", {"query": SEED_MUTATION}).get_json()
    exchange = answer["data"]["exchangeExternalCustomerToken"]
    assert exchange["customer"] == SEED_CUSTOMER
    token = exchange["token"]
    assert token.startswith("eyJraWQiOiIxIiwiYWxnIjoiSFMyNTYifQ.")

    me = client.post("/graphql", json={"query": "{ customer { email firstname } }"},
                     headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me == {"data": {"customer": {"email": "roni_cost@example.com", "firstname": "Roni"}}}

    again = post(client, integration, "/graphql", {"query": SEED_MUTATION}).get_json()
    assert again["data"]["exchangeExternalCustomerToken"]["customer"] == SEED_CUSTOMER
    assert store.customer_count() == 1


def test_one_exchange_leaves_four_activations(emulator, integration):
    app, controller, _ = emulator
    client = app.test_client()
    post(client, integration, "/graphql", {"query": SEED_MUTATION})
    records = client.get("/api/v1/namespaces/guest/activations?limit=4&docs=true", headers=OW_AUTH).get_json()
    assert [r["name"] for r in records] == ["exchange-external-customer-token", "issue-token", "upsert-customer",
                                            "verify-oauth"]
    summaries = client.get("/api/v1/namespaces/guest/activations?limit=4", headers=OW_AUTH).get_json()
    assert [(s["activationId"], s["statusCode"]) for s in summaries] == [(r["activationId"], 0) for r in records]
    assert not any("logs" in s or "response" in s for s in summaries)  # OpenWhisk lists summaries
    sequence, *components = records
    assert sequence["logs"] == [c["activationId"] for c in reversed(components)]
    for record in records:
        assert record["response"]["success"] is True and record["duration"] >= 0
        full = client.get(f"/api/v1/namespaces/guest/activations/{record['activationId']}", headers=OW_AUTH).get_json()
        assert full["activationId"] == record["activationId"]
    assert any("authenticated" in line for line in components[2]["logs"])
    assert any("created" in line for line in components[1]["logs"])


def test_web_sequence_url_with_the_input_as_json(emulator, integration):
    app, _, _ = emulator
    response = post(app.test_client(), integration, SEQUENCE_PATH, {"customer": SEED_CUSTOMER})
    assert response.status_code == 200
    body = response.get_json()
    assert body["customer"]["email"] == "roni_cost@example.com" and body["token"].count(".") == 2


@pytest.mark.parametrize("path", ["/graphql", SEQUENCE_PATH])
def test_replayed_request_is_refused(emulator, integration, path):
    app, _, _ = emulator
    client = app.test_client()
    body = {"query": SEED_MUTATION} if path == "/graphql" else {"customer": SEED_CUSTOMER}
    payload, headers = signed(integration, "http://localhost" + path, body)
    first = client.post(path, data=payload, headers=headers)
    replay = client.post(path, data=payload, headers=headers)
    assert first.status_code == 200
    errors = replay.get_json()["errors"]
    assert errors[0]["message"] == "You do not have permission to access this resource."
    assert errors[0]["extensions"] == {"category": "graphql-authorization"}


def test_seed_error_rows_through_the_emulator(emulator, integration):
    app, _, _ = emulator
    client = app.test_client()
    invalid = SEED_MUTATION.replace("roni_cost@example.com", "not-an-email")
    assert post(client, integration, "/graphql", {"query": invalid}).get_json()["errors"][0]["message"] == (
        '"Email" is not a valid email address.')
    missing = SEED_MUTATION.replace('email: "roni_cost@example.com" ', "")
    answer = post(client, integration, "/graphql", {"query": missing}).get_json()
    assert answer["errors"][0]["message"] == "Field CustomerCreateInput.email of required type String! was not provided"
    unsigned = client.post("/graphql", json={"query": SEED_MUTATION}).get_json()
    assert unsigned["errors"][0]["message"] == "You do not have permission to access this resource."
    assert unsigned["errors"][0]["path"] == ["exchangeExternalCustomerToken"]


def test_no_secret_in_activation_records(emulator, integration):
    app, _, store = emulator
    client = app.test_client()
    token = post(client, integration, "/graphql", {"query": SEED_MUTATION}).get_json()[
        "data"]["exchangeExternalCustomerToken"]["token"]
    post(client, integration, "/graphql", {"query": SEED_MUTATION.replace("Roni", "")})
    # A shopper's password, through both paths: it reaches the store as a hash, and no record
    passwords = {"graphql@example.com": "Gq-Passw0rd-One", "web@example.com": "Wb-Passw0rd-Two"}
    with_password = {"firstname": "P", "lastname": "W", "email": "graphql@example.com",
                     "password": passwords["graphql@example.com"]}
    answer = post(client, integration, "/graphql", {"query": "mutation($c: CustomerCreateInput!) { "
                  "exchangeExternalCustomerToken(input: {customer: $c}) { token } }", "variables": {"c": with_password}})
    assert answer.status_code == 200 and "errors" not in answer.get_json(), answer.get_json()
    web = post(client, integration, SEQUENCE_PATH,
               {"customer": {**with_password, "email": "web@example.com", "password": passwords["web@example.com"]}})
    assert web.status_code == 200, web.get_json()
    for email, password in passwords.items():
        _, rounds, salt, digest = store.find_customer(1, email).password_hash.split("$")
        assert hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds)).hex() == digest
    records = json.dumps(client.get("/api/v1/namespaces/guest/activations?limit=200&docs=true",
                                    headers=OW_AUTH).get_json())
    assert "authenticated" in records and token.split(".")[1] in records  # logs and results are in what is read
    assert "web@example.com" in records  # the verify-oauth results with the input are among them
    for secret in (integration.consumer_secret, integration.access_token, integration.access_token_secret,
                   token, token.split(".")[2], CRYPT_KEY, *passwords.values()):
        assert secret not in records


def test_secrets_under_other_names_are_in_no_activation_record(emulator, integration):
    """A password sent under another name, or as a custom attribute, through both paths: refused by
    its name as Commerce refuses it, its value in no record of any component nor of the sequence."""
    app, _, store = emulator
    client = app.test_client()
    secrets = {name: f"Pw-{i}-Hunter2-Secret" for i, name in enumerate(("pwd", "pass", "pass\u200bword"))}
    for name, secret in secrets.items():
        answer = post(client, integration, SEQUENCE_PATH, {"customer": {**SEED_CUSTOMER, name: secret}})
        assert answer.status_code == 400
        refused = f'Field "{name}" is not defined by type CustomerCreateInput.'
        assert answer.get_json()["errors"][0]["message"] == refused
    attribute = {"attribute_code": "password", "value": "Pw-Attr-Hunter2-Secret"}
    refused = 'The attribute with a "password" attributeCode doesn\'t exist. Verify the attribute and try again.'
    web = post(client, integration, SEQUENCE_PATH, {"customer": {**SEED_CUSTOMER, "custom_attributes": [attribute]}})
    assert web.status_code == 400 and web.get_json()["errors"][0]["message"] == refused
    mutation = ("mutation($c: CustomerCreateInput!) { exchangeExternalCustomerToken(input: {customer: $c}) "
                "{ token } }")
    graphql = post(client, integration, "/graphql", {"query": mutation, "variables": {
        "c": {**SEED_CUSTOMER, "custom_attributes": [{**attribute, "value": "Pw-Gql-Hunter2-Secret"}]}}})
    assert [e["message"] for e in graphql.get_json()["errors"]] == [refused]
    assert store.find_customer(1, SEED_CUSTOMER["email"]) is None
    records = client.get("/api/v1/namespaces/guest/activations?limit=200&docs=true", headers=OW_AUTH).get_json()
    assert {r["name"] for r in records} == {"exchange-external-customer-token", "verify-oauth", "upsert-customer"}
    text = json.dumps(records)
    assert "roni_cost@example.com" in text  # the inputs are in what is read
    for secret in (*secrets.values(), "Pw-Attr-Hunter2-Secret", "Pw-Gql-Hunter2-Secret"):
        assert "Hunter2" in secret and secret not in text


@contextmanager
def emulator_with(settings: dict[str, str]) -> Iterator[tuple]:
    """The emulator on the project's manifest with these settings (and the suite's crypt key)."""
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", {"CRYPT_KEY": CRYPT_KEY, **settings}),
                                          workers_per_action=1, state_file=None)
    try:
        yield app, controller, store
    finally:
        controller.shutdown()
        store.close()


def test_over_the_rate_limit(tmp_path):
    """The web sequence answers 429 with Retry-After; /graphql answers as Commerce answers every
    GraphQL error, HTTP 200 with the message in the body. One token a minute: a slow first exchange
    (cold workers on a loaded machine) does not refill the bucket before the second."""
    env = {"STORE_URL": f"tinydb://{tmp_path}/store.json", "RATE_LIMIT_PER_MINUTE": "1", "RATE_LIMIT_BURST": "1"}
    with emulator_with(env) as (app, _, store):
        integration = store.add_integration(Integration(name="storefront"))
        client = app.test_client()
        body = {"customer": SEED_CUSTOMER}
        assert post(client, integration, SEQUENCE_PATH, body).status_code == 200
        limited = post(client, integration, SEQUENCE_PATH, body)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
        assert limited.get_json()["errors"][0]["message"] == "Too many requests from this integration. Try again later."
        graphql = post(client, integration, "/graphql", {"query": SEED_MUTATION})
        assert graphql.status_code == 200
        assert graphql.get_json()["errors"][0]["message"] == "Too many requests from this integration. Try again later."


@pytest.mark.slow
@also_through_pgbouncer
def test_concurrent_exchanges_for_one_new_email(emulator, served, integration):
    """A real HTTP server, 64 overlapping exchanges for one new email, several warm workers per action:
    exactly one customer, and every token carries its id (also through PgBouncer, whose pool is
    smaller than the workers)."""
    _, controller, store = emulator

    def exchange(_: int) -> dict:
        payload, headers = signed(integration, served + "/graphql", {"query": SEED_MUTATION})
        return requests.post(served + "/graphql", data=payload, headers=headers, timeout=30).json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(exchange, range(64)))
    tokens = [a["data"]["exchangeExternalCustomerToken"]["token"] for a in answers]
    assert {token_customer_id(token) for token in tokens} == {1}
    assert store.customer_count() == 1
    assert controller.worker_count("customer-auth/upsert-customer") == 2


def test_a_database_that_does_not_answer_is_recorded_with_its_reason():
    """PostgreSQL down: the client gets Commerce's Internal server error, and the activation that met the
    outage is still recorded, its log saying why (the records' redaction reads the integrations too)."""
    url = "postgresql://postgres@127.0.0.1:9/test?pool_timeout=1"  # nothing listens on port 9
    with emulator_with({"STORE_URL": url}) as (app, controller, _):
        answer = post(app.test_client(), Integration(name="any"), SEQUENCE_PATH, {"customer": SEED_CUSTOMER})
        assert answer.status_code == 500
        assert answer.get_json()["errors"][0]["message"] == "Internal server error"
        records = controller.activations.list(name="verify-oauth")
        assert records and any("gave no connection" in line for line in records[0].logs), records
