"""Adobe's aio CLI and the npm `openwhisk` client, unmodified, against an emulator with nothing in its own
manifest: `aio rt deploy -m dist/manifest.yaml` deploys what `scripts/deploy --manifest` wrote (then
Adobe's Commerce signer gets a token through the deployed web sequence and `graphql` action), the
`aio rt` commands read what ran, and the npm client deploys, invokes and reads activations."""
from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections.abc import Iterator

import pytest

from customer_auth.integrations import Integration
from customer_auth.store import open_store
from tests.conftest import CRYPT_KEY, SEED_CUSTOMER
from tests.interop.conftest import MUTATION, Aio, NodeClients, emulator_process

import deploy  # scripts/lib/deploy.py

DENIED = "You do not have permission to access this resource."


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(API host, STORE_URL): an emulator subprocess whose manifest has no package, and the store the
    deployed actions are to use."""
    workdir = tmp_path_factory.mktemp("runtime")
    manifest = workdir / "app.config.yaml"
    manifest.write_text("application:\n  runtimeManifest:\n    packages: {}\n")
    with emulator_process(manifest, workdir) as running:
        yield running.base, running.store_url


@pytest.fixture(scope="module")
def aio(runtime, aio_executable, tmp_path_factory) -> Aio:
    return Aio(aio_executable, runtime[0], tmp_path_factory.mktemp("aio-home"))


@pytest.fixture(scope="module")
def deployed(runtime, aio, zips, tmp_path_factory):
    """The documented deployment: scripts/package's zips in the project's dist/, `scripts/deploy
    --manifest`, then `aio rt deploy -m dist/manifest.yaml` from the project's folder, with the
    settings in the environment."""
    project = tmp_path_factory.mktemp("project")
    (project / "dist").mkdir()
    for name, built in zips.items():
        os.link(built, project / "dist" / f"{name}.zip")
    assert deploy.main(["--manifest", "--dist", str(project / "dist")]) == 0
    return aio("rt", "deploy", "-m", "dist/manifest.yaml", cwd=project, STORE_URL=runtime[1], CRYPT_KEY=CRYPT_KEY)


def test_aio_deploys_the_written_manifest_and_the_signer_gets_a_token_through_it(
        runtime, deployed, node_clients: NodeClients) -> None:
    base, store_url = runtime
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Success: Deployment completed successfully." in deployed.stdout
    verify = node_clients.openwhisk(base, "actions.get", name="customer-auth/verify-oauth")["result"]
    assert verify["exec"]["binary"] is True and verify["exec"]["kind"] == "python:3.11"
    assert {"key": "STORE_URL", "value": store_url} in verify["parameters"]  # aio read $STORE_URL from the environment
    integration = open_store(store_url).add_integration(Integration(name="deployed-by-aio"))
    exchanges = [
        (f"{base}/api/v1/web/guest/customer-auth/exchange-external-customer-token?searchCriteria[pageSize]=5",
         {"customer": SEED_CUSTOMER}),
        (f"{base}/api/v1/web/guest/customer-auth/graphql?searchCriteria[pageSize]=5",
         {"query": MUTATION, "variables": {"customer": SEED_CUSTOMER}}),
    ]
    for url, body in exchanges:
        assert node_clients.exchange(integration, url, body)["email"] == SEED_CUSTOMER["email"]

def test_aio_rt_commands_invoke_and_read_what_ran(deployed, aio: Aio) -> None:
    assert deployed.returncode == 0, deployed.stderr
    invoked = aio("rt", "action", "invoke", "customer-auth/verify-oauth", "--blocking")
    assert invoked.returncode == 0, invoked.stderr
    record = json.loads(invoked.stdout)
    activation_id = record["activationId"]
    assert record["response"]["result"]["error"]["body"]["errors"][0]["message"] == DENIED
    assert set(record["response"]) == {"status", "success", "result"}  # as OpenWhisk shows a response

    for logs in (aio("rt", "activation", "logs", activation_id), aio("rt", "activation", "logs", "--last")):
        assert logs.returncode == 0, logs.stderr
        assert "no OAuth or Bearer Authorization header" in logs.stdout, logs.stdout

    listed = aio("rt", "activation", "list")
    assert listed.returncode == 0 and activation_id in listed.stdout, listed.stdout + listed.stderr
    got = aio("rt", "activation", "get", activation_id)
    assert got.returncode == 0 and json.loads(got.stdout)["name"] == "verify-oauth", got.stderr

    packages = aio("rt", "package", "list")
    row = next(line for line in packages.stdout.splitlines() if "customer-auth" in line)
    assert "package" in row.split() and "binding" not in row  # a package that binds none, as OpenWhisk lists it


def test_the_openwhisk_npm_client_deploys_invokes_and_reads_activations(runtime, node_clients: NodeClients) -> None:
    base = runtime[0]
    ow = node_clients.openwhisk
    assert "result" in ow(base, "packages.update", name="interop")
    hello = "def main(args):\n    print('hello', args.get('name'))\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"
    assert ow(base, "actions.create", name="interop/hello", action=hello, kind="python:3.11")["result"]["version"] == "0.0.1"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as built:
        built.writestr("__main__.py", "import helper\n\ndef main(args):\n    return {'from': helper.WHERE}\n")
        built.writestr("helper.py", "WHERE = 'the zip'\n")
    zipped = {"base64": base64.b64encode(archive.getvalue()).decode()}
    assert "result" in ow(base, "actions.create", name="interop/zipped", action=zipped, kind="python:3.12")

    assert ow(base, "actions.invoke", name="interop/hello", params={"name": "Roni"}, blocking=True,
              result=True)["result"] == {"greeting": "Hello Roni"}
    record = ow(base, "actions.invoke", name="interop/zipped", blocking=True)["result"]
    assert record["response"] == {"status": "success", "success": True, "result": {"from": "the zip"}}
    names = {a["name"] for a in ow(base, "actions.list", limit=200)["result"]}
    assert {"hello", "zipped"} <= names

    listed = ow(base, "activations.list", name="hello", limit=5)["result"]
    assert [a["name"] for a in listed] == ["hello"] and listed[0]["statusCode"] == 0
    hello_id = listed[0]["activationId"]
    assert ow(base, "activations.get", name=hello_id)["result"]["response"]["result"] == {"greeting": "Hello Roni"}
    assert any(line.endswith("hello Roni") for line in ow(base, "activations.logs", name=hello_id)["result"]["logs"])

    packages = ow(base, "packages.list")["result"]
    assert "interop" in {p["name"] for p in packages} and {p["binding"] for p in packages} == {False}
    namespace = ow(base, "namespaces.get")["result"]
    assert {"hello", "zipped"} <= {a["name"] for a in namespace["actions"]} and namespace["rules"] == []

    assert "result" in ow(base, "actions.delete", name="interop/hello")
    gone = ow(base, "actions.invoke", name="interop/hello", blocking=True)
    assert gone["error"]["statusCode"] == 404
