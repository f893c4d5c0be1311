"""The social-login tests' fixtures: a real OpenID provider (oidc-provider, Node.js) signing with keys the
tests hold, and the emulator as `./scripts/emulate` builds it, served on a loopback port, with
ID_PROVIDERS naming that provider and nothing else set: Commerce is the emulator's own /graphql."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from customer_auth.integrations import Integration
from customer_auth.store import Store
from emulator.bundle import emulator_app, first_start
from emulator.controller import Controller
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT, fresh_schema, serving
from tests.social.forge import KeySet
from tests.social.openid_provider import OpenIDProvider

SIGN_IN = "/api/v1/web/guest/social-login/sign-in"
Route = tuple[int, dict[str, str], str]  # status, headers, body
ACTIONS = ("social-login/verify-id-token", "social-login/exchange-customer-token", "customer-auth/verify-oauth",
           "customer-auth/upsert-customer", "customer-auth/issue-token")


@contextmanager
def canned_server(routes: dict[str, Route]) -> Iterator[str]:
    """A loopback HTTP server answering GET and POST of each path with its canned answer, as a provider
    or a Commerce that misbehaves would; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, headers, body = routes[self.path]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body.encode())

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()


@pytest.fixture(scope="session")
def provider_keys() -> KeySet:
    return KeySet.generate("RSA", prefix="provider")


@pytest.fixture(scope="session")
def openid_provider(provider_keys, tmp_path_factory) -> Iterator[OpenIDProvider]:
    """One provider for the session (started before any test's leak check, so not taken for a leak)."""
    provider = OpenIDProvider(tmp_path_factory.mktemp("provider"), provider_keys)
    try:
        yield provider
    finally:
        provider.stop()


@dataclass
class Emulator:
    base: str
    controller: Controller
    store: Store
    development: Integration
    env: dict[str, str]

    def sign_in(self, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> requests.Response:
        data = body if isinstance(body, str) else None
        return requests.post(self.base + SIGN_IN, json=None if data else body, data=data, timeout=60,
                             headers=headers or {})

    def graphql(self, query: str, token: str) -> dict[str, Any]:
        return requests.post(self.base + "/graphql", json={"query": query}, timeout=30,
                             headers={"Authorization": f"Bearer {token}"}).json()


@contextmanager
def running_emulator(store_url: str, workers: int = 1, warm: bool = False, **settings: str) -> Iterator[Emulator]:
    """The emulator over app.config.yaml with `settings` (ID_PROVIDERS...), its development integration
    made as on a first start, served on a free loopback port. `warm`: every action's worker started now
    (a module-scoped emulator's, before any test's leak check)."""
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY, **settings}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=workers,
                                          state_file=None)
    try:
        development = first_start(store) or store.integrations()[0]
        with serving(app, controller) as base:
            if warm:
                for fqn in ACTIONS:
                    controller.invoke(fqn, {})
            yield Emulator(base, controller, store, development, env)
    finally:
        controller.shutdown()
        store.close()


@pytest.fixture(scope="module", params=["tinydb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """A fresh store of each backend for a whole module."""
    if request.param == "tinydb":
        yield f"tinydb://{tmp_path_factory.mktemp('store')}/store.json"
        return
    with fresh_schema(request.getfixturevalue("postgres_admin"), "social_test") as url:
        yield url


@pytest.fixture(scope="module")
def sign_in_emulator(module_store_url, openid_provider) -> Iterator[Emulator]:
    """One warm emulator per backend for a module's tests, ID_PROVIDERS naming the session's provider
    as `local`."""
    with running_emulator(module_store_url, warm=True, ID_PROVIDERS=openid_provider.settings()) as running:
        yield running

