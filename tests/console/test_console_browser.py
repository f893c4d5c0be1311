"""The console in a real headless chromium: what a new user does on first opening the emulator."""
from __future__ import annotations

import re

from tests.console.conftest import screenshot


def ready(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


def test_first_visit_exchange_token_timeline_logs_and_customer_search(page, live_server, development):
    ready(page, live_server + "/")
    # The manifest: each package, its actions with limits, its sequence as a chain.
    chain = page.locator(".package[data-name=customer-auth] .chain .step")
    assert chain.all_text_contents() == ["verify-oauth", "upsert-customer", "issue-token"]
    assert page.locator(".package[data-name=customer-auth] .manifest-action").count() == 4
    assert page.locator(".package[data-name=social-login] .chain .step").all_text_contents() == [
        "verify-id-token", "exchange-customer-token"]
    assert "timeout 10 s" in page.locator(".manifest-action[data-fqn='customer-auth/verify-oauth']").inner_text()
    # The development integration, its key masked, preselected in the form.
    integrations = page.locator("#integrations-body").inner_text()
    assert "development" in integrations and development.consumer_key not in integrations
    assert development.consumer_key[:4] + "…" in integrations
    assert page.locator("#exchange-integration").input_value() == str(development.id)
    screenshot(page, "01-console-loaded")

    page.click("#exchange-run")
    token = page.locator("#token-value")
    token.wait_for()
    assert token.inner_text().startswith("eyJraWQiOiIxIiwiYWxnIjoiSFMyNTYifQ.")
    assert '"uid": 1' in page.locator("#token-claims").inner_text()
    assert re.fullmatch(r"expires in (59|60):\d\d", page.locator("#token-expiry").inner_text())
    # The request as signed (credentials masked) and the answer.
    request_text = page.locator("#exchange-request").inner_text()
    assert "Authorization: OAuth" in request_text and 'oauth_signature_method="HMAC-SHA256"' in request_text
    assert development.access_token not in request_text
    assert "roni_cost@example.com" in page.locator("#exchange-answer").inner_text()

    # Four bars on one axis: the sequence and its three components, all successful.
    rows = page.locator("#timeline .timeline-row")
    assert [r.get_attribute("data-name") for r in rows.all()] == [
        "exchange-external-customer-token", "verify-oauth", "upsert-customer", "issue-token"]
    assert page.locator("#timeline .bar.ok").count() == 4
    screenshot(page, "02-exchange-token-and-timeline")

    # A bar opens its record: verify-oauth's log says who authenticated.
    page.locator("#timeline .timeline-row[data-name=verify-oauth] .bar").click()
    logs = page.locator("#timeline .timeline-row[data-name=verify-oauth] .bar-panel .logs")
    logs.wait_for()
    assert "authenticated" in logs.inner_text()
    screenshot(page, "03-timeline-log-open")

    # The activations list (live): newest first, four records, filterable.
    page.locator("#activations-body .activation-row").nth(3).wait_for()
    assert page.locator("#activations-body .activation-row").count() == 4
    first = page.locator("#activations-body .activation-row").first.inner_text()
    assert "exchange-external-customer-token" in first and "success" in first
    page.select_option("#activations-name", "customer-auth/upsert-customer")
    page.wait_for_function("document.querySelectorAll('#activations-body .activation-row').length === 1")
    page.locator("#activations-body .activation-row").first.click()
    page.locator("#activations-body .activation-detail .logs").wait_for()
    assert "created" in page.locator("#activations-body .activation-detail").inner_text()
    page.select_option("#activations-status", "application-error")
    page.wait_for_function("document.querySelectorAll('#activations-body .activation-row').length === 0")
    page.select_option("#activations-status", "")
    page.select_option("#activations-name", "")
    page.locator("#activations").scroll_into_view_if_needed()
    screenshot(page, "04-activations")

    # The customer the exchange created, found by a case-insensitive part of the email.
    page.fill("#customers-q", "RONI_C")
    page.click("#customers-search button")
    page.wait_for_function("document.querySelector('#customers-count').textContent === '1 match'")
    assert "roni_cost@example.com" in page.locator("#customers-body").inner_text()
    page.fill("#customers-q", "nobody")
    page.click("#customers-search button")
    page.wait_for_function("document.querySelector('#customers-count').textContent === '0 matches'")
    page.fill("#customers-q", "roni")
    page.click("#customers-search button")
    page.wait_for_function("document.querySelector('#customers-count').textContent === '1 match'")
    page.locator("#store").scroll_into_view_if_needed()
    screenshot(page, "05-customer-search")


def test_refused_exchange_shows_the_failing_step(page, live_server, emulator, development):
    """A revoked integration: the answer carries Commerce's error, verify-oauth's bar is an application error."""
    store = emulator[2]
    ready(page, live_server + "/")
    development.token_revoked = True
    store.save_integration(development)
    page.click("#exchange-run")
    page.locator("#timeline .timeline-row").nth(1).wait_for()
    assert "No token" in page.locator("#token").inner_text()
    assert "permission to access this resource" in page.locator("#exchange-answer").inner_text()
    verify = page.locator("#timeline .timeline-row[data-name=verify-oauth]")
    assert verify.locator(".bar.app-error").count() == 1
    assert page.locator("#timeline .timeline-row").count() == 2  # the sequence stopped at verify-oauth
    # The integrations table now shows what the store holds: revoked (done behind the page's back)
    page.wait_for_function("document.querySelector('#integrations-body').textContent.includes('token revoked')")
    screenshot(page, "06-refused-exchange")


def test_graphql_editor_signs_runs_and_queries_with_the_token(page, live_server, development):
    ready(page, live_server + "/graphql")
    assert page.locator("#gql-sign").input_value() == str(development.id)
    page.click("#gql-run")
    page.wait_for_function("document.querySelector('#gql-answer').textContent.includes('token')")
    assert '"email": "roni_cost@example.com"' in page.locator("#gql-answer").inner_text()
    assert "activation" in page.locator("#gql-status").inner_text()
    screenshot(page, "07-graphql-editor-exchange")

    page.select_option("#gql-example", "customer")
    assert "Bearer eyJ" in page.locator("#gql-headers").input_value()
    page.click("#gql-run")
    page.wait_for_function("document.querySelector('#gql-answer').textContent.includes('\"customer\"')")
    assert '"firstname": "Roni"' in page.locator("#gql-answer").inner_text()
    screenshot(page, "08-graphql-editor-customer-query")


def test_the_picker_prefers_an_integration_that_may_exchange(page, live_server, emulator, development):
    from customer_auth.integrations import Integration

    store = emulator[2]
    store.add_integration(Integration(name="no-rights", resources=[]))
    development.token_revoked = True
    store.save_integration(development)
    ready(page, live_server + "/")
    options = page.locator("#exchange-integration option").all_inner_texts()
    assert any("development" in o and "revoked" in o for o in options)
    assert any("no-rights" in o and "no permission" in o for o in options)
    permitted = store.add_integration(Integration(name="allowed"))
    ready(page, live_server + "/")
    assert page.locator("#exchange-integration").input_value() == str(permitted.id)
    assert page.locator("#exchange-none").is_hidden()


def test_a_live_refresh_leaves_an_open_log_where_the_reader_left_it(page, live_server, development):
    ready(page, live_server + "/")
    page.click("#exchange-run")
    page.locator("#activations-body .activation-row").nth(3).wait_for()
    page.locator("#activations-body .activation-row").nth(2).click()  # upsert-customer's record
    logs = page.locator("#activations-body .activation-detail .logs")
    logs.wait_for()
    logs.evaluate("(pre) => { pre.dataset.mark = 'kept'; }")
    page.wait_for_timeout(4500)  # two refreshes that bring nothing new
    assert logs.evaluate("(pre) => pre.dataset.mark") == "kept"  # the same element: not redrawn


def test_a_narrow_screen_keeps_the_page_within_its_width(page, live_server, development):
    page.set_viewport_size({"width": 375, "height": 800})
    ready(page, live_server + "/")
    page.click("#exchange-run")
    page.locator("#timeline .timeline-row").nth(3).wait_for()
    widest = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > 376 && !e.closest('table'))
        .map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
        .slice(0, 12)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, widest
    bar = page.locator("#timeline .timeline-row[data-name=issue-token] .bar").bounding_box()
    assert bar["x"] + bar["width"] <= 375 and bar["width"] >= 4
    screenshot(page, "09-narrow-screen")


def test_the_activations_list_recovers_after_a_failed_refresh(page, live_server, development):
    ready(page, live_server + "/")
    page.wait_for_function("document.querySelector('#activations-count').textContent === '0 records'")
    failing = lambda route: route.fulfill(status=503, content_type="application/json",  # noqa: E731
                                          body='{"error": "emulator restarting"}')
    page.expected_errors = ["status of 503"]  # the outage this test makes
    page.route("**/console/api/activations?*", failing)
    page.wait_for_function("document.querySelector('#activations-count').textContent === 'emulator restarting'")
    page.unroute("**/console/api/activations?*", failing)
    page.wait_for_function("document.querySelector('#activations-count').textContent === '0 records'")
