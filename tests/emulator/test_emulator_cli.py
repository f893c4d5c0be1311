"""`python -m emulator` as a real process: options from the environment, serving, clean exit."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import open_store
from tests.conftest import emulator_env, free_port, gone, parent_of, read_only
from tests.emulator.conftest import AUTH, MANIFEST

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_with_env_options_and_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "EMULATOR_PORT": str(port), "EMULATOR_MANIFEST": str(MANIFEST),
           "OW_NAMESPACE": "dev", "FIXTURE_SECRET": "from-env", "OW_AUTH": "dev-user:dev-secret-key"}
    proc = subprocess.Popen([sys.executable, "-m", "emulator"], cwd=tmp_path, env={**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'actions'}"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any("activations" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/api/v1/web/dev/demo/pipeline" in printed
        assert f"api host      http://127.0.0.1:{port}" in printed
        assert "dev-user:****" in printed and "dev-secret-key" not in printed  # a custom key is only hinted at
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                answer = requests.get(f"{base}/api/v1/web/dev/demo/echo.json", timeout=5).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer["params"]["API_SECRET"] == "from-env"
        assert answer["env"]["__OW_API_HOST"] == base
        worker = answer["pid"]
        activations = f"{base}/api/v1/namespaces/dev/activations"
        assert requests.get(activations, auth=tuple(AUTH), timeout=5).status_code == 401  # not the guest key
        assert requests.get(activations, auth=("dev-user", "dev-secret-key"), timeout=5).json()[0]["name"] == "echo"
        requests.get(f"{base}/graphql?query=mutation{{x(password:%22Pw-Hunter2-Secret%22)}}", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        logged = proc.stdout.read()
        proc.stdout.close()
    assert "GET /graphql?… HTTP/1.1" in logged and "Hunter2" not in logged  # the request log shows no query
    deadline = time.monotonic() + 3
    while not gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(worker), "the emulator left its worker running"


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_production_servers_run_processes_with_their_own_workers(tmp_path: Path, server: str) -> None:
    """`--server gunicorn|granian --processes 2`: requests are served by two processes, each with its own
    warm workers; SIGTERM stops the server, and each process shuts its controller down: its workers
    go, and so do its staged folders (idle workers would end anyway with their server process)."""
    port = free_port()
    staged = tmp_path / "tmp"
    staged.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--manifest", str(MANIFEST), "--port", str(port),
                             "--server", server, "--processes", "2", "--threads", "4", "--state", "none"],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'actions'}",
                                               "TMPDIR": str(staged)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api/v1/web/guest/demo/echo.json"
    workers: set[int] = set()
    parents: set[int] = set()
    try:
        banner = proc.stdout.readline() + proc.stdout.readline()
        assert "api host" in banner, banner
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(8) as pool:  # requests at once, each on a connection of its own
            while len(parents) < 2 and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stdout.read()[-3000:]
                try:
                    pids = set(pool.map(lambda _: requests.get(url, timeout=10).json()["pid"], range(16)))
                except requests.ConnectionError:  # not listening yet
                    time.sleep(0.1)
                    continue
                workers |= pids
                parents |= set(map(parent_of, pids))
        assert len(parents) == 2 and proc.pid not in parents, "the workers should belong to two server processes"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
            output = proc.stdout.read()[-3000:]
        finally:
            proc.stdout.close()
    deadline = time.monotonic() + 5
    while not all(map(gone, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(gone, workers)), f"{server} left workers running"
    left = sorted(str(path.relative_to(staged)) for path in staged.glob("ow-emulator-*/**/*"))
    assert list(staged.glob("ow-emulator-*")) == [], f"{server} did not shut its controllers down: {left}\n{output}"


def test_cli_reports_manifest_errors_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "app.config.yaml"
    bad.write_text("application:\n  runtimeManifest:\n    packages:\n      p:\n        actions:\n          a: {}\n")
    done = subprocess.run([sys.executable, "-m", "emulator", "--manifest", str(bad), "--port", str(free_port())], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"emulate: {bad}: application.runtimeManifest.packages.p.actions.a.function: "
                                   "is required (path to the action's __main__.py)")


def test_needed_extras_read_flags_environment_and_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What scripts/emulate asks before it installs extras: `server` for the run's server and
    `postgres` for a PostgreSQL STORE_URL, whichever place chose them (a flag over the environment
    over `.env`), and none for --help or bad arguments."""
    from emulator.__main__ import needed_extras

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMULATOR_SERVER", raising=False)
    monkeypatch.delenv("STORE_URL", raising=False)
    assert needed_extras([]) == ""
    (tmp_path / ".env").write_text("EMULATOR_SERVER=granian\nSTORE_URL=tinydb:///tmp/store.json\n")
    assert needed_extras([]) == "server"
    monkeypatch.setenv("EMULATOR_SERVER", "gunicorn")
    assert needed_extras([]) == "server"
    assert needed_extras(["--server", "flask"]) == ""
    (tmp_path / ".env").write_text("STORE_URL=postgresql://postgres@127.0.0.1/test\n")
    assert needed_extras([]) == "server,postgres"
    monkeypatch.setenv("STORE_URL", "postgres://db/x")  # the environment over .env
    assert needed_extras(["--server", "flask"]) == "postgres"
    assert needed_extras(["--help"]) == "" and needed_extras(["--server", "apache"]) == ""


def test_the_banner_names_deployments_that_shadow_the_manifest(tmp_path: Path) -> None:
    """Deployments kept across restarts replace the manifest's entities, whose .env inputs then no
    longer apply: the banner says which, and how to run the manifest's again."""
    from emulator.__main__ import api_lines
    from emulator.manifest import load_manifest
    from emulator.rest_api import GUEST_KEY

    manifest = load_manifest(MANIFEST, {"FIXTURE_SECRET": "x"})
    state = tmp_path / "entities.json"
    assert not any("replace" in line for line in api_lines("http://h", GUEST_KEY, state, manifest))  # no file yet
    state.write_text('{"actions": [{"package": "demo", "name": "echo"}, {"package": "shop", "name": "add"}]}')
    lines = api_lines("http://h", GUEST_KEY, state, manifest)
    assert lines[-1].split() == ["1", "of", "them", "replace", "the", "manifest's", "demo/echo:", "settings", "changed",
                                 "in", ".env", "do", "not", "reach", "those", "(start", "without", "--state,", "or",
                                 "remove", "entities.json,", "to", "run", "the", "manifest's)"]


def test_a_network_facing_emulator_needs_a_key_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST API runs any action: bound beyond loopback, the world-known guest key is refused."""
    from emulator.__main__ import parse_args

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as refused:
        parse_args(["--host", "0.0.0.0"], {})
    assert refused.value.code == 2
    assert parse_args(["--host", "0.0.0.0", "--auth", "me:a-key-of-mine"], {}).host == "0.0.0.0"
    assert parse_args(["--host", "::1"], {}).host == "::1"


def test_an_unusable_store_stops_the_start_with_its_reason(tmp_path: Path) -> None:
    env = {**os.environ, "STORE_URL": "postgresql://postgres@127.0.0.1:9/test?pool_timeout=1",
           "EMULATOR_STATE": "none"}
    done = subprocess.run([sys.executable, "-m", "emulator", "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "emulate: the store cannot be used: PostgreSQL at 127.0.0.1:9/test gave no connection" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_store_url_nothing_can_open_is_named(tmp_path: Path) -> None:
    env = {**os.environ, "STORE_URL": "bogus://x", "EMULATOR_STATE": "none"}
    done = subprocess.run([sys.executable, "-m", "emulator", "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, "emulate: setting STORE_URL has an unsupported scheme 'bogus': a "
                                                 "store is tinydb:///absolute/path/store.json or "
                                                 "postgresql://user:password@host:port/database\n")


def test_a_port_in_use_stops_the_start_before_anything_is_created(tmp_path: Path) -> None:
    """A first start creates the development integration and shows its credentials once: a start
    that cannot listen must not get that far."""
    manifest = tmp_path / "app.config.yaml"
    manifest.write_text((ROOT / "app.config.yaml").read_text())
    (tmp_path / "actions").symlink_to(ROOT / "actions")
    env = {**os.environ, "STORE_URL": f"tinydb://{tmp_path}/store.json", "EMULATOR_STATE": "none"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "emulator", "--port", str(port)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (1, f"emulate: cannot listen on 127.0.0.1:{port}: Address already in use\n")
    assert done.stdout == "" and not (tmp_path / "store.json").exists()
    assert not (tmp_path / ".data").exists()  # no crypt key, no store: nothing of a first start


# Start-up failures: one line naming the file or setting, never a traceback ---------------------------------
def start_once(cwd: Path, env: dict[str, str], *args: str, prelude: str = "pass") -> subprocess.CompletedProcess[str]:
    """`python -m emulator` (after `prelude`, Python run first in the same process) until it ends."""
    code = f"{prelude}; import runpy, sys; sys.argv[0] = 'emulator'; runpy.run_module('emulator', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code, "--port", str(free_port()), "--manifest",
                           str(ROOT / "app.config.yaml"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def test_a_read_only_store_folder_stops_the_start_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    url = f"tinydb://{folder}/store.json"
    open_store(url).add_integration(Integration(name="kept"))
    with read_only(folder):
        done = start_once(tmp_path, emulator_env(url))
    assert done.returncode == 1
    assert one_line(done).startswith(f"emulate: the store cannot be used: cannot write in the store's folder {folder}: ")


def test_a_postgresql_store_without_psycopg_names_the_extra(tmp_path: Path) -> None:
    done = start_once(tmp_path, emulator_env("postgresql://postgres@127.0.0.1:5432/test"),
                      prelude="import sys; sys.modules['psycopg'] = None")  # as if never installed
    assert done.returncode == 2
    assert one_line(done).startswith("emulate: setting STORE_URL names a PostgreSQL store, which needs psycopg (")
    assert one_line(done).endswith("install the `postgres` extra (pip install -e '.[postgres]'; "
                                   "./scripts/emulate installs it itself)")


def test_a_damaged_customers_file_is_named_at_start_and_by_the_console(tmp_path: Path) -> None:
    from emulator.bundle import emulator_app
    from emulator.manifest import load_manifest

    url = f"tinydb://{tmp_path}/store.json"
    store = open_store(url)
    store.add_integration(Integration(name="kept"))
    store.import_customers([Customer(email=f"c{i}@example.com", firstname="C", lastname="D", website_id=1, store_id=1)
                            for i in range(40)])
    damaged = sorted((tmp_path / "store.customers").glob("*.json"))[3]
    damaged.write_text('{"customers": {"7": {"email": ')  # cut short, as by a copy that failed
    done = start_once(tmp_path, emulator_env(url))
    assert done.returncode == 1
    assert one_line(done).startswith(f"emulate: the store cannot be used: the store file {damaged} is not valid JSON: ")
    # Damaged while running: the console says which file, as its own error, not as a crash.
    app, controller, _ = emulator_app(load_manifest(ROOT / "app.config.yaml", {"STORE_URL": url, "CRYPT_KEY": "k" * 32}),
                                      state_file=None)
    try:
        answer = app.test_client().get("/console/api/customers")
    finally:
        controller.shutdown()
    assert answer.status_code == 503
    assert answer.get_json()["error"].startswith(f"The store cannot be used: the store file {damaged} is not valid JSON")


def test_a_development_crypt_key_that_cannot_be_kept_names_crypt_key(tmp_path: Path) -> None:
    manifest = tmp_path / "app.config.yaml"
    manifest.write_text((ROOT / "app.config.yaml").read_text())
    (tmp_path / "actions").symlink_to(ROOT / "actions")
    (tmp_path / ".data").mkdir()
    env = emulator_env(f"tinydb://{tmp_path}/store/store.json")
    del env["CRYPT_KEY"]
    with read_only(tmp_path / ".data"):
        done = subprocess.run([sys.executable, "-m", "emulator", "--port", str(free_port()), "--manifest",
                               str(manifest)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert one_line(done).startswith(f"emulate: setting CRYPT_KEY is not set, and the development key "
                                     f"{tmp_path / '.data' / 'crypt.key'} cannot be kept (")
