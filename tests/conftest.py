"""Fixtures shared by every test: a fresh store, an integration, the actions loaded as OpenWhisk loads them."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import socket
import time
import uuid
from pathlib import Path
from types import ModuleType
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from customer_auth.integrations import Integration
from customer_auth.store import open_store

pytest_plugins = ["tests.secret_audit"]

ROOT = Path(__file__).resolve().parent.parent
CRYPT_KEY = "0123456789abcdef0123456789abcdef"
SEED_CUSTOMER = {"firstname": "Roni", "lastname": "Cost", "email": "roni_cost@example.com", "is_subscribed": False}


def free_port() -> int:
    """A loopback port free now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_project(target: Path) -> Path:
    """`target` made a copy of this checkout as a fresh clone has it (the files git tracks, and new
    ones it does not ignore; no .env, .data or dist), sharing this checkout's .venv, so the scripts
    run there as a user runs them. Modification times are kept, so no script reinstalls the venv;
    every set of extras a script asks for is installed first, here, so none installs into the shared
    venv from the copy."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    extras = {m.group(1) or "" for script in (ROOT / "scripts").iterdir() if script.is_file()
              for m in re.finditer(r"^\s*ensure_venv(?: \"?([a-z,]+)\"?)?\s*$", script.read_text(), re.M)}
    for wanted in sorted(extras):
        subprocess.run(["bash", "-c", f'source scripts/lib/venv.sh && ensure_venv "{wanted}"'], cwd=ROOT, check=True)
    return target


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(") ")[2].split()


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        return _stat(pid)[0] == "Z"
    except FileNotFoundError:
        return True


def parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


def race(target: Any, args: tuple, processes: int) -> list[Any]:
    """`target(*args, barrier)` in `processes` spawned processes that wait at the barrier and then all
    go at once; their results. The processes are reaped, not just terminated, before it returns."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            results = pool.starmap(target, [(*args, barrier)] * processes)
            pool.close()
            pool.join()
    return results


def token_customer_id(token: str) -> int:
    """The `uid` claim of a customer token, read without checking it (tests check tokens elsewhere)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["uid"]


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


# PostgreSQL: STORE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). Each test
# gets a schema of its own, named in the URL's `options=-csearch_path=...`, dropped afterwards. When
# the server cannot be reached those tests are skipped with the reason, unless
# STORE_TEST_POSTGRES_REQUIRED=1 (CI sets it), which makes them fail.
POSTGRES_URL = os.environ.get("STORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("STORE_TEST_POSTGRES_REQUIRED") == "1"


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL for the store tests is unavailable ({reason}); set STORE_TEST_POSTGRES_URL"
    if POSTGRES_REQUIRED:
        pytest.fail(message + " (STORE_TEST_POSTGRES_REQUIRED=1)", pytrace=False)
    pytest.skip(message)


def with_search_path(url: str, schema: str) -> str:
    """`url` whose sessions use `schema` (added to any `options` the URL already has), and are named
    after it."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = f"{query.get('options', '')} -csearch_path={schema}".strip()
    query["application_name"] = schema  # so a test can find (and kill) the store's own sessions
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    """An autocommit connection to the test database, for making and dropping schemas."""
    try:
        import psycopg
    except ImportError as error:
        _unavailable(f"psycopg is not installed: {error}")
    try:
        conn = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        _unavailable(" ".join(str(error).split()))
    yield conn
    conn.close()


@pytest.fixture
def postgres_url(postgres_admin: Any) -> Iterator[str]:
    """A store URL on a fresh, empty schema of the test database."""
    from psycopg import sql

    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = with_search_path(POSTGRES_URL, schema)
    yield url
    open_store(url).close()  # the cached store's pool, if the test used it
    postgres_admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["tinydb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend in turn: the test runs once on TinyDB, once on PostgreSQL."""
    if request.param == "tinydb":
        return f"tinydb://{tmp_path}/store.json"
    return request.getfixturevalue("postgres_url")


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


@pytest.fixture
def emulator(any_store_url: str) -> Iterator[tuple]:
    """The emulator exactly as `./scripts/emulate` builds it over the project's app.config.yaml:
    (flask app, controller, store), a fresh store of each backend, real worker processes."""
    from emulator.bundle import emulator_app
    from emulator.manifest import load_manifest

    env = {"STORE_URL": any_store_url, "CRYPT_KEY": CRYPT_KEY}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=2,
                                          state_file=None)
    try:
        yield app, controller, store
    finally:
        controller.shutdown()


@contextmanager
def serving(app, controller) -> Iterator[str]:
    """`app` behind a real HTTP server thread on a free loopback port; yields its base URL, which is
    also the controller's API host (actions annotated provide-api-key call it back)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    controller.api_host = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def served(emulator) -> Iterator[str]:
    """The emulator behind a real HTTP server thread; yields its base URL."""
    with serving(emulator[0], emulator[1]) as base:
        yield base
