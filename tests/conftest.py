"""Fixtures shared by every test: a fresh store, an integration, the actions loaded as OpenWhisk loads them."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import time
from pathlib import Path
from types import ModuleType
from collections.abc import Iterator
from typing import Any

import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from customer_auth.integrations import Integration
from customer_auth.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CRYPT_KEY = "0123456789abcdef0123456789abcdef"
SEED_CUSTOMER = {"firstname": "Roni", "lastname": "Cost", "email": "roni_cost@example.com", "is_subscribed": False}


def load_action(name: str) -> ModuleType:
    """An action's `__main__.py` as its own module, the way the runtime imports it."""
    path = ROOT / "actions" / name / "__main__.py"
    spec = importlib.util.spec_from_file_location(f"action_{name.replace('-', '_')}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def actions() -> dict[str, ModuleType]:
    return {name: load_action(name) for name in ("verify-oauth", "upsert-customer", "issue-token")}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"tinydb://{tmp_path}/store.json"


@pytest.fixture
def store(store_url: str):
    return open_store(store_url)


@pytest.fixture
def integration(store) -> Integration:
    return store.add_integration(Integration(name="social-login"))


def oauth_client(integration: Integration, **kwargs: Any) -> Client:
    """A standard OAuth 1.0a client (oauthlib), as an App Builder app signs its Commerce calls."""
    return Client(
        integration.consumer_key,
        client_secret=integration.consumer_secret,
        resource_owner_key=integration.access_token,
        resource_owner_secret=integration.access_token_secret,
        signature_method=kwargs.pop("signature_method", SIGNATURE_HMAC_SHA256),
        **kwargs,
    )


def signed_web_params(
    integration: Integration,
    body: dict[str, Any] | None = None,
    url: str = "http://127.0.0.1:9080/graphql",
    method: str = "POST",
    extra_headers: dict[str, str] | None = None,
    **client_kwargs: Any,
) -> dict[str, Any]:
    """The raw web parameters OpenWhisk gives the sequence's first action for a signed request."""
    payload = json.dumps({"customer": SEED_CUSTOMER} if body is None else body)
    _, headers, _ = oauth_client(integration, **client_kwargs).sign(
        url, http_method=method, body=payload, headers={"Content-Type": "application/json"}
    )
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    all_headers = {"content-type": "application/json", "host": host, "x-forwarded-proto": scheme,
                   "x-forwarded-uri": "/" + path, "authorization": headers["Authorization"]}
    all_headers.update(extra_headers or {})
    return {
        "__ow_method": method.lower(),
        "__ow_headers": all_headers,
        "__ow_path": "",
        "__ow_query": path.partition("?")[2],
        "__ow_body": base64.b64encode(payload.encode()).decode(),
    }


def settings(store_url: str, **overrides: Any) -> dict[str, Any]:
    return {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY, **overrides}


def run_sequence(params: dict[str, Any], env: dict[str, str], actions: dict[str, ModuleType]) -> dict[str, Any]:
    """The web sequence composed by direct calls, with OpenWhisk's rules: each component's manifest
    inputs merged under the previous result (the payload wins); the first error ends the sequence."""
    from emulator.manifest import load_manifest

    manifest = load_manifest(ROOT / "app.config.yaml", env)
    sequence = manifest.find("customer-auth/exchange-external-customer-token")
    payload = params
    for fqn in sequence.components:
        action = manifest.find(fqn)
        payload = actions[action.name].main({**action.inputs, **payload})
        if "error" in payload:
            break
    return payload


def child_pids() -> set[int]:
    """Direct children of this process (zombies included: an unreaped worker is a leak too)."""
    me, out = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me:
            out.add(int(entry))
    return out


@pytest.fixture(scope="session", autouse=True)
def resource_tracker() -> None:
    """Starts multiprocessing's resource tracker before any test does: it lives as long as this
    process, so the leak check below would otherwise blame (and kill) it in the first
    test that spawns processes, and then in the next one."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


@pytest.fixture(autouse=True)
def no_leaked_workers() -> Iterator[None]:
    """Fails a test that leaves a worker process alive (flask's leak-checking fixture, for processes)."""
    before = child_pids()
    yield
    deadline = time.monotonic() + 3
    leaked = child_pids() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = child_pids() - before
    if leaked:
        for pid in leaked:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        pytest.fail(f"test left worker processes alive: {sorted(leaked)}")
