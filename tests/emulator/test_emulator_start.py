"""What `./scripts/emulate` refuses to start with, and what a start leaves behind: a setting that cannot
work, a `.env` that cannot be parsed, an option's variable that is no value, deployments kept only when
asked to. Each runs the emulator as a real process in a folder of its own, as a user starts it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port
from tests.emulator.conftest import AUTH

PYTHONPATH = f"{ROOT}{os.pathsep}{ROOT / 'actions'}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: the manifest, the actions, a store of its own; its `.env` is the test's."""
    (tmp_path / "app.config.yaml").write_text((ROOT / "app.config.yaml").read_text())
    (tmp_path / "actions").symlink_to(ROOT / "actions")
    return tmp_path


def environment(**extra: str) -> dict[str, str]:
    """The test process's environment without the variables a developer's shell may set for the
    emulator, with PYTHONPATH as scripts/emulate sets it."""
    names = ("STORE_URL", "CRYPT_KEY", "EMULATOR_", "OW_", "JWT_", "RATE_", "CUSTOMER_", "LOG_LEVEL")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**kept, "PYTHONPATH": PYTHONPATH, **extra}


def emulate(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulator", "--port", str(free_port()), *args], cwd=project,
                          env=environment(**env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("line, problem", [
    ("JWT_ALG=RS256", "setting JWT_ALG must be one of HS256, HS384, HS512, got 'RS256'"),
    ("CUSTOMER_TOKEN_LIFETIME=abc", "setting CUSTOMER_TOKEN_LIFETIME must be a whole number, got 'abc'"),
    ("RATE_LIMIT_PER_MINUTE=lots", "setting RATE_LIMIT_PER_MINUTE must be a whole number of 0 or more, got 'lots'"),
    ("STORES=fr:base", "setting DEFAULT_STORE must be one of the store codes of STORES (fr), got 'default'"),
])
def test_a_setting_that_cannot_work_stops_the_start_named(project: Path, line: str, problem: str) -> None:
    """Checked with the code the actions read it with, over the value each action would receive:
    one line naming the setting and what it accepts, exit 2 as for a broken manifest, nothing served."""
    (project / ".env").write_text(line + "\n")
    done = emulate(project)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"emulate: {problem}\n", "")
    assert not (project / ".data").exists()  # checked before anything of a first start is made


def test_a_setting_from_the_environment_is_checked_as_from_env_file(project: Path) -> None:
    done = emulate(project, LOG_LEVEL="loud")
    assert (done.returncode, done.stderr) == (2, "emulate: setting LOG_LEVEL must be one of debug, info, warning, "
                                                 "error, got 'loud'\n")


def test_an_env_file_that_cannot_be_parsed_stops_the_start_at_its_line(project: Path) -> None:
    """python-dotenv warns and drops the line: CRYPT_KEY's would leave the generated key in use. The
    refusal names the file, the line and the variable, never the value (it may be a secret)."""
    (project / ".env").write_text('LOG_LEVEL=debug\n# the Commerce key\nCRYPT_KEY="0123456789abcdef\nJWT_ALG=HS256\n')
    done = emulate(project)
    assert (done.returncode, done.stderr) == (2, f"emulate: {project}/.env, line 3 (CRYPT_KEY=…): a quote is opened "
                                                 "and never closed on its line; fix or remove the line\n")
    assert not (project / ".data").exists()  # no crypt key generated in its place


def test_an_option_from_env_file_names_its_variable(project: Path) -> None:
    (project / ".env").write_text("EMULATOR_PORT=abc\n")
    done = subprocess.run([sys.executable, "-m", "emulator"], cwd=project, env=environment(), capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, "emulate: EMULATOR_PORT (from the environment or .env): must be a "
                                                 "whole number of 1 or more, not 'abc'\n")


def test_the_scripts_refuse_an_env_file_that_cannot_be_parsed(tmp_path: Path) -> None:
    """Every script that reads `.env` says which line it cannot read, instead of dropping it."""
    from tests.conftest import copy_project

    project = copy_project(tmp_path)
    (project / ".env").write_text("STORE_URL=tinydb:///tmp/x.json\nthis line is no setting\n")
    for command in (["integration", "list"], ["audit"], ["store", "migrate"], ["package", "--out", str(tmp_path)],
                    ["exchange", "--email", "a@example.com", "--firstname", "A", "--lastname", "B"],
                    ["deploy", "--apihost", "http://127.0.0.1:9", "--auth", "u:k"]):
        done = subprocess.run([str(project / "scripts" / command[0]), *command[1:]], cwd=project, env=environment(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert done.stderr.splitlines()[-1] == (f"error: {project}/.env, line 2: cannot be parsed as NAME=value; "
                                                "fix or remove the line"), (command, done.stderr)


@contextmanager
def running(project: Path, *args: str) -> Iterator[str]:
    """The emulator serving from `project` until the block ends (SIGINT, as Ctrl-C); yields its banner,
    once the API host it names answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port), *args], cwd=project,
                            env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        while not any(line.startswith("activations") for line in banner):
            line = proc.stdout.readline()
            assert line, "".join(banner)
            banner.append(line)
        base = "".join(banner).split("api host", 1)[1].split()[0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/api/v1", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield "".join(banner)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        proc.stdout.close()


def deploy_action(base: str) -> requests.Response:
    actions = f"{base}/api/v1/namespaces/_/actions/customer-auth/issue-token?overwrite=true"
    code = "def main(args):\n    return {'deployed': True}\n"
    return requests.put(actions, json={"exec": {"kind": "python:3.11", "code": code}}, auth=tuple(AUTH), timeout=10)


def test_deployments_last_as_long_as_the_emulator_unless_a_state_file_keeps_them(project: Path) -> None:
    """By default an entity deployed through the REST API is gone at the next start, which runs the
    manifest's actions with that day's settings again; `--state FILE` keeps it, and the banner says
    which manifest entities it replaces."""
    with running(project) as banner:
        base = banner.split("api host", 1)[1].split()[0]
        assert "deployments   in memory only (--state FILE keeps them across restarts)" in banner
        assert deploy_action(base).status_code == 200
    assert [p.name for p in project.rglob("*entities*")] == []  # nothing written of the deployment
    with running(project) as banner:
        base = banner.split("api host", 1)[1].split()[0]
        kept = requests.get(f"{base}/api/v1/namespaces/_/actions/customer-auth/issue-token", auth=tuple(AUTH), timeout=10)
        assert kept.json()["exec"]["binary"] is False and "code" not in kept.json()["exec"]  # the manifest's
        assert "replace" not in banner
    with running(project, "--state", "kept.json") as banner:
        base = banner.split("api host", 1)[1].split()[0]
        assert deploy_action(base).status_code == 200
    with running(project, "--state", "kept.json") as banner:
        assert "1 of them replace the manifest's customer-auth/issue-token" in banner


def test_an_ipv6_bind_address_is_written_as_clients_write_it(project: Path) -> None:
    """The API host the banner names, and that actions calling the emulator back are given (social-login's
    Commerce is its own /graphql there), is a URL: an IPv6 address in brackets."""
    with running(project, "--host", "::1") as banner:
        base = banner.split("api host", 1)[1].split()[0]
        assert base.startswith("http://[::1]:")
        assert requests.get(f"{base}/api/v1", timeout=10).ok


def test_a_state_file_that_cannot_be_read_back_stops_the_start(project: Path) -> None:
    with running(project, "--state", "kept.json") as banner:
        assert deploy_action(banner.split("api host", 1)[1].split()[0]).status_code == 200
    for code in (project / "kept.code").iterdir():
        code.unlink()
    done = emulate(project, "--state", "kept.json")
    assert done.returncode == 2 and done.stderr.startswith(f"emulate: the state file {project}/kept.json cannot be "
                                                           "read back (FileNotFoundError: ")
    assert done.stderr.endswith("move it away, or start without --state\n") and "Traceback" not in done.stderr
