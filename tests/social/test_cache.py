"""Fetching a provider's documents over real HTTP: Cache-Control, and what is not a usable document."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from social_login.cache import MAX_DOCUMENT_BYTES, get_json, max_age
from social_login.refusals import ProviderUnavailable
from tests.social.conftest import canned_server

ROUTES = {
    "/jwks": (200, {"Cache-Control": "public, max-age=3600", "Age": "600"}, json.dumps({"keys": []})),
    "/no-cache": (200, {"Cache-Control": "no-cache, max-age=3600"}, "{}"),
    "/silent": (200, {}, "{}"),
    "/list": (200, {}, "[]"),
    "/html": (200, {}, "<html>"),
    "/huge": (200, {}, json.dumps({"keys": "x" * MAX_DOCUMENT_BYTES})),
    "/deep": (200, {}, '{"keys": ' + "[" * 100_000 + "]" * 100_000 + "}"),  # past any JSON reader's stack
    "/error": (500, {}, "{}"),
    "/to-http": (302, {"Location": "http://example.com/jwks"}, ""),
    "/to-loopback": (302, {"Location": "/jwks"}, ""),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with canned_server(ROUTES) as base:
        yield base


def test_max_age_less_age(server):
    fetched = get_json(server + "/jwks")
    assert fetched.document == {"keys": []} and fetched.max_age == 3000
    assert get_json(server + "/no-cache").max_age == 0
    assert get_json(server + "/silent").max_age is None


def test_a_loopback_redirect_is_followed(server):
    assert get_json(server + "/to-loopback").document == {"keys": []}


@pytest.mark.parametrize("path, why", [("/list", "not an object"), ("/html", "other than JSON"),
                                       ("/huge", "more than"), ("/deep", "other than JSON"), ("/error", "HTTP 500"),
                                       ("/to-http", "must be https")])
def test_what_is_no_document(server, path, why):
    with pytest.raises(ProviderUnavailable) as caught:
        get_json(server + path)
    assert why in caught.value.reason


def test_nothing_listening():
    with pytest.raises(ProviderUnavailable) as caught:
        get_json("http://127.0.0.1:9/jwks", timeout=2)
    assert "cannot be fetched" in caught.value.reason


@pytest.mark.parametrize("control, age, expected", [("max-age=60", None, 60), ('max-age="60"', "100", 0),
                                                   ("private, no-store", None, 0), ("s-maxage=60", None, None),
                                                   ("max-age=60", "x", 60)])
def test_cache_control(control, age, expected):
    headers = {"Cache-Control": control, **({"Age": age} if age else {})}
    assert max_age(headers) == expected
