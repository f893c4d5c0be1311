"""What the emulator says it is, in OpenWhisk's shapes: the info document at `/`, a namespace's
limits, Adobe I/O Runtime's log-forwarding settings, and entity summaries as OpenWhisk writes them
(the clients that read these are driven for real in tests/interop)."""
from __future__ import annotations

import time

import pytest

from emulator.app import create_app
from emulator.manifest import LIMIT_RULES
from tests.emulator.conftest import authorized

NS = "/api/v1/namespaces/_"
MB = 1024 * 1024


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html;q=0.9"])
def test_the_info_document_answers_every_api_client_without_a_key(controller, accept) -> None:
    """Controller.info's shape; the emulator alone (no console registered) answers JSON even to a browser."""
    anonymous = create_app(controller).test_client()
    answer = anonymous.get("/", headers={"Accept": accept} if accept else {})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    info = answer.get_json()
    assert set(info) == {"description", "support", "api_paths", "limits", "runtimes"}
    assert info["api_paths"] == ["/api/v1"] and info["limits"]["sequence_length"] == 50
    timeout, memory = LIMIT_RULES["timeout"], LIMIT_RULES["memory"]
    assert info["limits"]["min_action_duration"] == timeout[1] and info["limits"]["max_action_duration"] == timeout[2]
    assert info["limits"]["max_action_memory"] == memory[2] * MB == info["limits"]["default_max_action_memory"]
    assert {"actions_per_minute", "triggers_per_minute", "concurrent_actions", "min_action_logs",
            "max_action_logs", "default_min_action_duration"} <= set(info["limits"])
    python = info["runtimes"]["python"]
    assert [r["kind"] for r in python] == ["python:3", "python:3.10", "python:3.11", "python:3.12"]
    for runtime in python:
        assert set(runtime) == {"kind", "image", "deprecated", "default", "attached", "requireMain"}
    assert [r["kind"] for r in python if r["default"]] == ["python:3.10"]
    # aio-lib-runtime looks for a kind it does not know in runtimes.nodejs only (see emulator/platform.py)
    assert [r["kind"] for r in info["runtimes"]["nodejs"]] == [r["kind"] for r in python]
    assert create_app(controller).test_client().get("/", headers={"Accept": "text/html"}).is_json


def test_every_listed_kind_deploys_and_runs_and_no_other(controller) -> None:
    client = authorized(create_app(controller).test_client())
    kinds = [r["kind"] for r in client.get("/").get_json()["runtimes"]["python"]]
    code = "def main(args):\n    return {'ok': True}\n"
    for kind in [*kinds, "python:default"]:
        name = kind.replace(":", "-").replace(".", "")
        assert client.put(f"{NS}/actions/demo/{name}", json={"exec": {"kind": kind, "code": code}}).status_code == 200
        assert client.post(f"{NS}/actions/demo/{name}?blocking=true&result=true").get_json() == {"ok": True}
    refused = client.put(f"{NS}/actions/demo/node", json={"exec": {"kind": "nodejs:20", "code": code}})
    assert refused.status_code == 400 and "'nodejs:20' is not supported" in refused.get_json()["error"]


def test_namespace_limits_as_limits_scala_answers(client, controller) -> None:
    limits = client.get(f"{NS}/limits")
    assert limits.status_code == 200
    body = limits.get_json()
    assert body["minActionTimeout"] == 100 and body["maxActionMemory"] == LIMIT_RULES["memory"][2]
    assert body["concurrentInvocations"] == body["maxActionInstances"] and body["maxParameterSize"] == "1 MB"
    assert {"invocationsPerMinute", "firesPerMinute", "minActionMemory", "minActionLogs", "maxActionLogs",
            "maxActionTimeout", "minActionConcurrency", "maxActionConcurrency"} <= set(body)
    assert client.get("/api/v1/namespaces/guest/limits").get_json() == body
    assert create_app(controller).test_client().get(f"{NS}/limits").status_code == 401
    assert client.get("/api/v1/namespaces/other/limits").status_code == 403


def test_log_forwarding_is_adobe_io_runtimes_own_as_with_nothing_configured(client, controller) -> None:
    """`aio rt activation logs` asks I/O Runtime's log-forwarding settings first (with the namespace's
    key); logs kept by the runtime itself mean `wsk activation logs` has them."""
    assert client.get("/runtime/namespaces/guest/logForwarding").get_json() == {"adobe_io_runtime": {}}
    errors = client.get("/runtime/namespaces/guest/logForwarding/errors").get_json()
    assert errors == {"configured_forwarder": "adobe_io_runtime", "errors": []}
    anonymous = create_app(controller).test_client().get("/runtime/namespaces/guest/logForwarding")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"]
    assert client.get("/runtime/namespaces/other/logForwarding").status_code == 403
    unknown = client.put("/runtime/namespaces/guest/logForwarding", json={"splunk_hec": {}})
    assert unknown.status_code == 405 and set(unknown.get_json()) == {"error", "code"}


def test_package_summaries_bind_nothing_and_entities_carry_when_they_were_made(client, controller) -> None:
    """WhiskPackage.summaryAsJson writes `binding: false` for a package that binds none (aio shows a
    package with anything else as a binding); the whole package writes `{}` and lists its members'
    names, versions and annotations. Manifest entities were made when the manifest was read."""
    before = int(time.time() * 1000)
    assert client.put(f"{NS}/packages/shop", json={}).status_code == 200
    listed = client.get(f"{NS}/packages").get_json()
    assert {p["name"]: p["binding"] for p in listed} == {"shop": False, "demo": False}
    assert "parameters" not in listed[0] and "actions" not in listed[0]
    demo = client.get(f"{NS}/packages/demo").get_json()
    assert demo["binding"] == {} and demo["feeds"] == []
    assert all(set(member) == {"name", "version", "annotations"} for member in demo["actions"])
    read_at = controller.manifest.updated
    assert 0 < read_at <= before
    assert {p["name"]: p["updated"] for p in listed}["demo"] == read_at
    assert client.get(f"{NS}/actions/demo/echo").get_json()["updated"] == read_at
    assert {a["updated"] for a in client.get(f"{NS}/actions/demo/").get_json()} == {read_at}
    shop = next(p for p in listed if p["name"] == "shop")
    assert shop["updated"] >= before and listed[0]["name"] == "shop"  # newest first

