"""The console's "Sign in with a provider" in a real headless chromium, at a real OpenID provider: its
login and consent pages, back to the console, then sign-in; the implicit flow, then the code flow with
PKCE (the browser exchanges the code at the provider's token endpoint)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.bundle import emulator_app, first_start
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT, free_port, serving, token_customer_id
from tests.console.conftest import screenshot
from tests.social.forge import KeySet
from tests.social.openid_provider import CLIENT_ID, OpenIDProvider


@pytest.fixture
def console(store_url, tmp_path) -> Iterator[tuple[str, OpenIDProvider]]:
    """The emulator on a loopback port chosen first, so that the provider, started next, may send the
    browser back to its console; ID_PROVIDERS names the provider."""
    port = free_port()
    provider = OpenIDProvider(tmp_path, KeySet.generate("RSA"),
                              clients=[{"client_id": CLIENT_ID, "redirect_uris": [f"http://127.0.0.1:{port}/"]}])
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY, "ID_PROVIDERS": provider.settings()}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=1,
                                          state_file=None)
    first_start(store)
    try:
        with serving(app, controller, port) as base:
            yield base, provider
    finally:
        controller.shutdown()
        provider.stop()


def sign_in_at_the_provider(page, flow: str, login: str | None) -> None:
    page.select_option("#sign-in-flow", flow)
    page.click("#sign-in-run")
    if login is not None:  # the provider's own login form (any login, any password)
        page.wait_for_selector("input[name=login]")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", "any password")
        page.click("button[type=submit]")
    page.wait_for_selector("input[name=prompt][value=consent]", state="attached")  # its consent page
    page.click("button[type=submit]")


def test_sign_in_with_a_provider_implicit_then_code_flow(page, console):
    base, provider = console
    page.expected_errors = ["fonts.googleapis.com", "Failed to load resource"]  # the provider's page, offline
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready=true]")
    assert provider.issuer in page.locator("#sign-in-provider").inner_text()
    assert page.locator("#sign-in-client").input_value() == CLIENT_ID
    screenshot(page, "10-sign-in-form")

    sign_in_at_the_provider(page, "implicit", "ada")
    page.wait_for_url(base + "/#sign-in")  # back, the token gone from the address bar
    page.locator("#sign-in-token-value").wait_for()
    claims = page.locator("#id-token-claims").inner_text()
    assert '"email": "ada@example.com"' in claims and f'"iss": "{provider.issuer}"' in claims
    decision = page.locator("#sign-in-link-decision p")
    assert decision.get_attribute("data-new") == "true" and "ada@example.com" in decision.inner_text()
    first_uid = token_customer_id(page.locator("#sign-in-token-value").inner_text())
    # One request, every step: sign-in's two activations and the exchange's four, through /graphql
    rows = page.locator("#sign-in-timeline .timeline-row")
    assert [r.get_attribute("data-name") for r in rows.all()] == [
        "sign-in", "verify-id-token", "exchange-customer-token",
        "exchange-external-customer-token", "verify-oauth", "upsert-customer", "issue-token"]
    assert page.locator("#sign-in-timeline .bar.ok").count() == 7
    screenshot(page, "11-signed-in-implicit")

    sign_in_at_the_provider(page, "code", None)  # the provider's session remembers ada
    page.wait_for_url(base + "/#sign-in")
    page.wait_for_function("document.querySelector('#sign-in-link-decision p')?.dataset.new === 'false'")
    assert token_customer_id(page.locator("#sign-in-token-value").inner_text()) == first_uid
    assert "Linked since" in page.locator("#sign-in-link-decision").inner_text()
    screenshot(page, "12-signed-in-code-flow")


def test_without_providers_the_page_says_how_to_get_one(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#sign-in-none").is_visible()
    assert "./scripts/local-provider" in page.locator("#sign-in-none").inner_text()
    assert page.locator("#sign-in-run").is_disabled()


def test_the_providers_routes(emulator, tmp_path):
    """What the page is given: names, issuers and client ids, then a provider's endpoints from its own
    discovery document; a provider away, an unknown name and an ID_PROVIDERS that cannot work say so."""
    app, controller, _ = emulator
    client = app.test_client()
    local = "http://127.0.0.1:9080"
    assert client.get("/console/api/providers", base_url=local).get_json() == {"providers": []}
    provider = OpenIDProvider(tmp_path, KeySet.generate("RSA"))
    try:
        controller.reload(env={"STORE_URL": "tinydb:///unused.json", "CRYPT_KEY": CRYPT_KEY,
                               "ID_PROVIDERS": provider.settings()})
        listed = client.get("/console/api/providers", base_url=local).get_json()
        assert listed == {"providers": [{"name": "local", "issuer": provider.issuer, "client_ids": [CLIENT_ID]}]}
        endpoints = client.get("/console/api/providers/local", base_url=local).get_json()
        assert endpoints["authorization_endpoint"] == f"{provider.issuer}/auth"
        assert endpoints["token_endpoint"] == f"{provider.issuer}/token" and "id_token" in endpoints["response_types_supported"]
        assert client.get("/console/api/providers/google", base_url=local).status_code == 404
    finally:
        provider.stop()
    away = client.get("/console/api/providers/local", base_url=local)
    assert away.status_code == 502 and "cannot be read" in away.get_json()["error"]
    controller.reload(env={"STORE_URL": "tinydb:///unused.json", "CRYPT_KEY": CRYPT_KEY,
                           "ID_PROVIDERS": '{"shop": {"issuer": "http://sso.example.com", "client_ids": ["w"]}}'})
    broken = client.get("/console/api/providers", base_url=local)
    assert broken.status_code == 409 and "must be https" in broken.get_json()["error"]
