"""graphql: the raw web action serving Commerce's endpoint logs into its activation like the steps."""
from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import load_action, settings


@pytest.fixture
def graphql_main(monkeypatch):
    # What provide-api-key gives the action; a customer query never invokes the sequence through it.
    monkeypatch.setenv("__OW_API_HOST", "http://127.0.0.1:9")
    return load_action("graphql").main


def customer_query(token: str, **overrides: str) -> dict:
    body = json.dumps({"query": "{ customer { email } }"})
    return {"__ow_method": "post", "__ow_path": "", "__ow_query": "",
            "__ow_headers": {"content-type": "application/json", "authorization": f"Bearer {token}"},
            "__ow_body": base64.b64encode(body.encode()).decode(), **settings(overrides.pop("store_url"), **overrides)}


@pytest.mark.parametrize("level, shown", [("warning", True), ("info", True), ("error", False), ("", True)])
def test_refusals_reach_the_activation_log_at_its_level(graphql_main, store_url, capsys, level, shown):
    """A forged token is refused with Commerce's words; the reason goes to stdout (the activation's
    log) when LOG_LEVEL lets warnings through, and never the token itself."""
    token = "not.a.jwt-" + level
    result = graphql_main(customer_query(token, store_url=store_url, LOG_LEVEL=level))
    errors = json.loads(result["body"])["errors"]
    assert result["statusCode"] == 200 and errors[0]["extensions"]["category"] == "graphql-authorization"
    captured = capsys.readouterr()
    assert ("WARNING customer graphql-authorization" in captured.out) is shown, captured
    assert token not in captured.out + captured.err
    assert captured.err == ""  # not Python's last-resort handler
