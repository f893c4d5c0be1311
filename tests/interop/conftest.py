"""The clients users already run, unmodified, against the emulator as `./scripts/emulate` runs it (a
subprocess on a free port): the npm `openwhisk` client, Adobe's Commerce signer
(@adobe/aio-commerce-lib-auth) and Adobe's aio CLI.

The npm packages are pinned by the lock files beside this file and installed once per machine by
scripts/lib/npm.sh (scripts/test does it first). Without node or npm these tests skip, except in CI
(CI=true), where they fail naming what is missing.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.rest_api import GUEST_KEY
from tests import conftest
from tests.conftest import RunningEmulator
from tests.secret_audit import AUDIT

HERE = Path(__file__).parent
NAMESPACE = "guest"
MUTATION = ("mutation($customer: CustomerCreateInput!) { exchangeExternalCustomerToken(input: {customer: $customer})"
            " { token customer { email } } }")
NODE_TIMEOUT = 60  # seconds for one client request
AIO_TIMEOUT = 180  # seconds for one aio command (a deployment uploads four 10 MB zips)


def npm_packages(name: str) -> Path:
    """The folder holding node_modules/ for tests/interop/<name> (see conftest.npm_packages)."""
    return conftest.npm_packages(HERE / name, "the interop tests")


class NodeClients:
    """tests/interop/clients.cjs in one node process, answering one request at a time."""

    def __init__(self, node_modules: Path) -> None:
        self._process = subprocess.Popen(["node", str(HERE / "clients.cjs")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, env={**os.environ, "NODE_PATH": str(node_modules)})

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], NODE_TIMEOUT)
        if not ready:
            raise TimeoutError(f"the node clients did not answer {request.get('op')} within {NODE_TIMEOUT} s")
        line = self._process.stdout.readline()
        assert line, f"the node clients exited ({self._process.poll()})"
        reply = json.loads(line)
        assert "failure" not in reply, reply["failure"]
        return reply

    def exchange(self, integration: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """Adobe's signer signs the POST of `body` to `url` as `integration` and fetch sends it; the
        answer, a 200, and the customer it names (a GraphQL answer's or the web sequence's)."""
        answer = self.ask({"op": "fetch", "credentials": credentials(integration), "method": "POST", "url": url,
                           "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)})
        assert answer["status"] == 200, (url, answer["body"])
        result = json.loads(answer["body"])
        exchanged = result["data"]["exchangeExternalCustomerToken"] if "data" in result else result
        assert exchanged["token"].count(".") == 2, result
        return exchanged["customer"]

    def openwhisk(self, apihost: str, call: str, **args: Any) -> dict[str, Any]:
        options = {"apihost": apihost, "api_key": GUEST_KEY, "namespace": NAMESPACE}
        return self.ask({"op": "openwhisk", "options": options, "call": call, "args": args})

    def close(self) -> None:
        assert self._process.stdin
        self._process.stdin.close()
        self._process.wait(10)


@pytest.fixture(scope="session")
def node_clients() -> Iterator[NodeClients]:
    clients = NodeClients(npm_packages("clients") / "node_modules")
    yield clients
    clients.close()


class Aio:
    """Adobe's aio CLI, configured as its docs say for a custom API host: through the environment
    (AIO_RUNTIME_APIHOST, AIO_RUNTIME_AUTH, AIO_RUNTIME_NAMESPACE), no login, and a HOME of its own so
    that nothing of the user's aio or wsk configuration is read or written."""

    def __init__(self, executable: Path, apihost: str, home: Path) -> None:
        self.executable, self.home = executable, home
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "AIO_RUNTIME_APIHOST": apihost,
                    "AIO_RUNTIME_AUTH": GUEST_KEY, "AIO_RUNTIME_NAMESPACE": NAMESPACE,
                    "AIO_TELEMETRY_DISABLED": "true", "AIO_SKIP_NEW_VERSION_CHECK": "true"}

    def __call__(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.executable), *args], cwd=cwd or self.home, env={**self.env, **env},
                              capture_output=True, text=True, timeout=AIO_TIMEOUT)
        AUDIT.sink(f"aio {' '.join(args)}", done.stdout + done.stderr)
        return done


@pytest.fixture(scope="session")
def aio_executable() -> Path:
    return npm_packages("aio-cli") / "node_modules" / ".bin" / "aio"


def credentials(integration: Any) -> dict[str, str]:
    """An integration's credentials as @adobe/aio-commerce-lib-auth takes them."""
    return {"consumerKey": integration.consumer_key, "consumerSecret": integration.consumer_secret,
            "accessToken": integration.access_token, "accessTokenSecret": integration.access_token_secret}


@contextmanager
def emulator_process(manifest: Path, workdir: Path) -> Iterator[RunningEmulator]:
    """conftest.emulator_process over `manifest` (its store in `workdir`), two workers per action. Its
    activation records and its output go to the secret audit when it stops."""
    running = None
    try:
        with conftest.emulator_process(workdir, "--workers-per-action", "2", manifest=manifest) as running:
            try:
                yield running
            finally:
                try:
                    records = requests.get(f"{running.base}/api/v1/namespaces/_/activations?docs=true&limit=200",
                                           auth=tuple(GUEST_KEY.split(":")), timeout=10).text
                    AUDIT.sink("emulator subprocess's activation records", records)
                except requests.RequestException:
                    pass
    finally:
        if running is not None:
            AUDIT.sink("emulator subprocess's output", running.output())
