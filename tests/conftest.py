"""Fixtures shared by every test: a fresh store, an integration, the actions loaded as OpenWhisk loads them."""
from __future__ import annotations

import base64
import functools
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from customer_auth.integrations import Integration
from customer_auth.store import open_store

pytest_plugins = ["tests.secret_audit"]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "lib"))  # the scripts' modules (deploy, package, ...) for their tests
CRYPT_KEY = "0123456789abcdef0123456789abcdef"
SEED_CUSTOMER = {"firstname": "Roni", "lastname": "Cost", "email": "roni_cost@example.com", "is_subscribed": False}
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")  # .ci/run sets CI=true


def unavailable(message: str, required: bool = IN_CI, because: str = "CI is set") -> NoReturn:
    """What a test needs is missing on this machine (Node.js, chromium, PostgreSQL...): the test is
    skipped, saying so, unless it is `required` (in CI): then it fails, since CI may skip nothing."""
    if required:
        pytest.fail(f"{message} ({because}: these tests may not be skipped)", pytrace=False)
    pytest.skip(message)


@functools.cache
def npm_packages(folder: Path, needed_by: str) -> Path:
    """The folder holding node_modules/ for `folder`'s package-lock.json (scripts/lib/npm.py; scripts/test
    installs them first). Without Node.js and npm, `unavailable`, naming `needed_by` (the tests)."""
    from npm import NpmUnavailable, npm_packages as installed  # scripts/lib/npm.py

    try:
        return installed(folder)
    except NpmUnavailable as error:
        unavailable(f"{needed_by} need Node.js 20+ and npm: {error}")


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


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Nothing may be created in or removed from `folder` until the block ends, as on a read-only
    mount: mode 555, and for root, whom modes do not stop, the immutable attribute as well
    (`chattr +i`: FS_IOC_SETFLAGS with FS_IMMUTABLE_FL)."""
    import array
    import fcntl

    get_flags, set_flags, immutable = 0x80086601, 0x40086602, 0x10
    as_root = os.geteuid() == 0

    def flag(on: bool) -> None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            flags = array.array("l", [0])
            fcntl.ioctl(fd, get_flags, flags)
            flags[0] = flags[0] | immutable if on else flags[0] & ~immutable
            fcntl.ioctl(fd, set_flags, flags)
        finally:
            os.close(fd)

    folder.chmod(0o555)
    try:
        if as_root:
            flag(True)
        yield
    finally:
        if as_root:
            flag(False)
        folder.chmod(0o755)


def emulator_env(store_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `python -m emulator` subprocess over `store_url` (more settings as keywords)."""
    return {**os.environ, "STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY, "EMULATOR_STATE": "none",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'actions'}", **settings}


def wait_until_up(base: str, proc: Any = None) -> None:
    """Until the emulator at `base` answers (a failed start, `proc` ended, fails at once)."""
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the emulator at {base} ended with {proc.returncode}")
        try:
            requests.get(f"{base}/graphql", params={"query": "{ __typename }"}, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError(f"the emulator at {base} did not start")


class RunningEmulator:
    """A `python -m emulator` subprocess: its base URL, port, store and everything it printed."""

    def __init__(self, port: int, store_url: str, log: Path) -> None:
        self.port, self.store_url, self.log = port, store_url, log
        self.base = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_bytes().decode("utf-8", errors="replace")


@contextmanager
def emulator_process(folder: Path, *args: str, server: str = "flask", manifest: Path = ROOT / "app.config.yaml",
                     **settings: str) -> Iterator[RunningEmulator]:
    """The emulator as `./scripts/emulate` runs it (its own process, over the project's manifest unless
    told another, a TinyDB store in `folder`, one server process, deployments in memory), until the
    block ends: SIGTERM, then reaped."""
    import signal

    port = free_port()
    running = RunningEmulator(port, f"tinydb://{folder}/store.json", folder / f"emulator-{port}.log")
    with open(running.log, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port), "--manifest", str(manifest),
                                 "--server", server, "--processes", "1", *args],
                                cwd=folder, env=emulator_env(running.store_url, **settings), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_until_up(running.base, proc)
        except AssertionError as error:
            raise AssertionError(f"{error}; it printed:\n{running.output()[-4000:]}") from None
        yield running
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def actions() -> dict[str, ModuleType]:
    return {name: load_action(name) for name in ("verify-oauth", "upsert-customer", "issue-token")}


# PostgreSQL: STORE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). Each test
# gets a schema of its own, named in the URL's `options=-csearch_path=...`, dropped afterwards. When
# the server cannot be reached those tests are skipped with the reason, unless
# STORE_TEST_POSTGRES_REQUIRED=1 (CI sets it), which makes them fail.
POSTGRES_URL = os.environ.get("STORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("STORE_TEST_POSTGRES_REQUIRED") == "1"


def _unavailable(reason: str, remedy: str = "set STORE_TEST_POSTGRES_URL", what: str = "PostgreSQL") -> NoReturn:
    unavailable(f"{what} for the store tests is unavailable ({reason}); {remedy}", POSTGRES_REQUIRED,
                "STORE_TEST_POSTGRES_REQUIRED=1")


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


@contextmanager
def fresh_schema(postgres_admin: Any, prefix: str = "store_test") -> Iterator[str]:
    """A store URL on a fresh, empty schema of the test database, dropped when the block ends."""
    from psycopg import sql

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = with_search_path(POSTGRES_URL, schema)
    try:
        yield url
    finally:
        open_store(url).close()  # the cached store's pool, if it was used
        postgres_admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_url(postgres_admin: Any) -> Iterator[str]:
    """A store URL on a fresh, empty schema of the test database."""
    with fresh_schema(postgres_admin) as url:
        yield url


# PgBouncer: Debian's, in transaction mode with a small pool, in front of the test database (as
# deployments put it between many action containers and one PostgreSQL). It is needed when PostgreSQL
# is: missing, its tests fail where STORE_TEST_POSTGRES_REQUIRED=1 (CI), and are skipped elsewhere.
PGBOUNCER_POOL_SIZE = 2  # server connections per database: fewer than the clients of most tests
SESSION_PROCESSES: set[int] = set()  # children that live as long as the session: not leaked workers


@pytest.fixture(scope="session")
def pgbouncer(postgres_admin: Any) -> Iterator[Any]:
    """The session's PgBouncer (see above)."""
    from scripts.lib.pgbouncer import PgBouncer, PgBouncerUnavailable

    try:
        bouncer = PgBouncer(POSTGRES_URL, pool_size=PGBOUNCER_POOL_SIZE).start()
    except PgBouncerUnavailable as error:
        _unavailable(str(error), "scripts/test installs it when run as root", what="PgBouncer")
    SESSION_PROCESSES.add(bouncer.pid)
    yield bouncer
    bouncer.stop()


def through_pgbouncer(request: pytest.FixtureRequest, url: str) -> str:
    """The schema of `url` (a `postgres_url`) through the session's PgBouncer: a database of its own
    there, whose server connections use that schema (PgBouncer before 1.20 refuses `options`), so a
    pool of its own; closed and removed after the test."""
    bouncer = request.getfixturevalue("pgbouncer")
    schema = dict(parse_qsl(urlsplit(url).query))["application_name"]  # see with_search_path
    bouncer.add_database(schema, search_path=schema)
    routed = bouncer.url(schema, application_name=schema)

    def finish() -> None:
        open_store(routed).close()
        bouncer.remove_database(schema)

    request.addfinalizer(finish)
    return routed


BACKENDS = ["tinydb", pytest.param("postgresql", marks=pytest.mark.postgres)]
THROUGH_PGBOUNCER = pytest.param("pgbouncer", marks=[pytest.mark.postgres, pytest.mark.pgbouncer])


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of the backend `request.param` names: tinydb, postgresql, or pgbouncer (the
    same PostgreSQL through PgBouncer)."""
    if request.param == "tinydb":
        return f"tinydb://{tmp_path}/store.json"
    url = request.getfixturevalue("postgres_url")
    return through_pgbouncer(request, url) if request.param == "pgbouncer" else url


@pytest.fixture(params=BACKENDS)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend in turn: the test runs once on TinyDB, once on PostgreSQL."""
    return backend_url(request, tmp_path)


# A test that also runs through PgBouncer: its `any_store_url` (and so `emulator`) is each backend,
# then PostgreSQL through PgBouncer.
also_through_pgbouncer = pytest.mark.parametrize("any_store_url", [*BACKENDS, THROUGH_PGBOUNCER], indirect=True)


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
    leaked = child_pids() - before - SESSION_PROCESSES
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = child_pids() - before - SESSION_PROCESSES
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
def serving(app, controller, port: int = 0) -> Iterator[str]:
    """`app` behind a real HTTP server thread on a loopback port (`port`, else a free one); yields its
    base URL, which is also the controller's API host (actions annotated provide-api-key call it back)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
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


@pytest.fixture(scope="session")
def zips(tmp_path_factory) -> dict[str, Path]:
    """The action zips, built once per test session by scripts/package (pip takes a while)."""
    import package  # scripts/lib/package.py

    out = tmp_path_factory.mktemp("dist")
    assert package.main(["--out", str(out)]) == 0
    return {path.stem: path for path in out.glob("*.zip")}
