"""OpenWhisk's REST API: deploying packages, actions (source and zip) and sequences, then invoking them.

Calls go as `wsk` and the openwhisk npm client make them: basic auth with the namespace's key,
JSON entity documents, `?overwrite=true`, `?blocking=true&result=true`.
"""
from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
import os
import sys
import threading
import time
import zipfile

import pytest
import requests
from werkzeug.serving import make_server

from emulator.app import create_app
from emulator.rest_api import GUEST_KEY
from tests.conftest import gone
from tests.emulator.conftest import AUTH, authorized

NS = "/api/v1/namespaces/_"
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
ADD = "def main(args):\n    return {'sum': args['x'] + args['y'], 'pkg': args.get('P'), 'pid': __import__('os').getpid()}\n"
# A minimal activate_this.py as virtualenv writes it: the venv's site-packages first, sys.prefix moved.
ACTIVATE_THIS = f"""import os, site, sys
bin_dir = os.path.dirname(os.path.abspath(__file__))
base = os.path.dirname(bin_dir)
os.environ["VIRTUAL_ENV"] = base
prev = len(sys.path)
site.addsitedir(os.path.join(base, "lib", "{PY}", "site-packages"))
sys.path[:] = sys.path[prev:] + sys.path[:prev]
sys.real_prefix = sys.prefix
sys.prefix = base
"""
ZIP_MAIN = """import sys
import zipdep


def main(args):
    return {"value": zipdep.VALUE, "prefix": sys.prefix, "path": sys.path}
"""


def make_zip(files: dict[str, str]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def venv_zip(main: str) -> str:
    return make_zip({
        "__main__.py": main,
        "virtualenv/bin/activate_this.py": ACTIVATE_THIS,
        f"virtualenv/lib/{PY}/site-packages/zipdep.py": "VALUE = 'from the zip'\n",
    })


def put_package(client, name: str = "shop", overwrite: bool = False, **body):
    return client.put(f"{NS}/packages/{name}{'?overwrite=true' if overwrite else ''}", json=body)


def put_action(client, name: str, code: str = ADD, *, binary: bool = False, overwrite: bool = False,
               kind: str = "python:3.11", **body):
    body.setdefault("exec", {"kind": kind, "code": code, "binary": binary})
    return client.put(f"{NS}/actions/shop/{name}{'?overwrite=true' if overwrite else ''}",
                      json={"namespace": "_", "name": name, **body})


def invoke(client, name: str, params: dict | None = None, query: str = "blocking=true&result=true"):
    return client.post(f"{NS}/actions/shop/{name}?{query}", json=params or {})


@pytest.fixture
def shop(client):
    assert put_package(client, parameters=[{"key": "P", "value": "package"}]).status_code == 200
    return client


def test_the_api_info_needs_no_key(controller) -> None:
    anonymous = create_app(controller).test_client()
    for path in ("/api/v1", "/api/v1/"):
        info = anonymous.get(path)
        assert info.status_code == 200 and info.get_json()["api_version_path"] == "v1"


def test_auth_is_required_on_the_namespaces_api(controller) -> None:
    client = create_app(controller).test_client()
    missing = client.get("/api/v1/namespaces")
    assert missing.status_code == 401
    assert missing.get_json()["error"] == "The resource requires authentication, which was not supplied with the request"
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="OpenWhisk secure realm"'
    wrong = base64.b64encode(b"23bc46b1-71f6-4ed5-8c54-816aa4f8c502:nope").decode()
    for header in (f"Basic {wrong}", "Basic !!!", "Bearer x"):
        refused = client.get(f"{NS}/activations", headers={"Authorization": header})
        assert refused.status_code == 401 and len(refused.get_json()["code"]) == 32
    assert client.get(f"{NS}/activations", headers={"Authorization": f"Basic {wrong}"}).get_json()["error"] == (
        "The supplied authentication is invalid")
    assert authorized(client).get("/api/v1/namespaces").get_json() == ["guest"]
    custom = create_app(controller, auth="abc:def").test_client()
    ok = custom.get("/api/v1/namespaces", headers={"Authorization": "Basic " + base64.b64encode(b"abc:def").decode()})
    assert ok.status_code == 200
    assert authorized(custom).get("/api/v1/namespaces").status_code == 401  # the guest key is not this one
    assert client.get("/api/v1/web/guest/demo/echo.json").status_code == 200  # web actions stay public


def test_packages(client) -> None:
    created = put_package(client, parameters=[{"key": "P", "value": 1}], publish=True)
    assert created.status_code == 200
    doc = created.get_json()
    assert (doc["name"], doc["namespace"], doc["version"], doc["publish"]) == ("shop", "guest", "0.0.1", True)
    again = put_package(client)
    assert again.status_code == 409 and again.get_json()["error"] == "resource already exists"
    updated = put_package(client, overwrite=True, parameters=[{"key": "P", "value": 2}]).get_json()
    assert updated["version"] == "0.0.2" and updated["parameters"] == [{"key": "P", "value": 2}]
    assert updated["publish"] is True  # what the update leaves out stays
    assert client.get(f"{NS}/packages/shop").get_json()["parameters"] == [{"key": "P", "value": 2}]
    assert {p["name"] for p in client.get(f"{NS}/packages").get_json()} == {"shop", "demo"}
    assert put_action(client, "add").status_code == 200
    assert [a["name"] for a in client.get(f"{NS}/packages/shop").get_json()["actions"]] == ["add"]
    busy = client.delete(f"{NS}/packages/shop")
    assert busy.status_code == 409
    assert busy.get_json()["error"] == ("Package not empty (contains 1 entity). Set force param or delete "
                                        "package contents.")
    assert client.delete(f"{NS}/packages/shop?force=true").status_code == 200
    assert client.get(f"{NS}/packages/shop").status_code == 404
    assert client.get(f"{NS}/actions/shop/add").status_code == 404
    assert client.delete(f"{NS}/packages/demo").status_code == 409  # the manifest's: read-only
    assert put_action(client, "add").status_code == 404  # no package any more


def test_action_from_source_invoked_every_way(shop, controller) -> None:
    created = put_action(shop, "add", parameters=[{"key": "y", "value": 2}], limits={"timeout": 5000})
    assert created.status_code == 200
    doc = created.get_json()
    assert doc["namespace"] == "guest/shop" and doc["exec"] == {"kind": "python:3.11", "code": ADD, "binary": False}
    assert doc["limits"] == {"timeout": 5000, "memory": 256, "logs": 10, "concurrency": 1}
    assert {"key": "exec", "value": "python:3.11"} in doc["annotations"]
    assert "code" not in shop.get(f"{NS}/actions/shop/add?code=false").get_json()["exec"]

    result = invoke(shop, "add", {"x": 1})
    assert result.status_code == 200
    assert {k: v for k, v in result.get_json().items() if k != "pid"} == {"sum": 3, "pkg": "package"}
    assert invoke(shop, "add", {"x": 1, "y": 10}).get_json()["sum"] == 11  # the payload wins over defaults

    record = invoke(shop, "add", {"x": 5}, query="blocking=true")
    assert record.status_code == 200
    body = record.get_json()
    assert body["activationId"] == record.headers["x-openwhisk-activation-id"]
    assert body["name"] == "add" and body["response"]["result"]["sum"] == 7 and body["response"]["success"] is True
    assert next(a["value"] for a in body["annotations"] if a["key"] == "path") == "guest/shop/add"

    queued = invoke(shop, "add", {"x": 0}, query="")
    assert queued.status_code == 202
    activation_id = queued.get_json()["activationId"]
    deadline = time.monotonic() + 10
    while (found := shop.get(f"{NS}/activations/{activation_id}")).status_code == 404:
        assert time.monotonic() < deadline, "the non-blocking activation never ended"
        time.sleep(0.05)
    assert found.get_json()["response"]["result"]["sum"] == 2
    assert shop.get(f"{NS}/activations/{activation_id}/result").get_json()["result"]["sum"] == 2
    assert shop.get(f"{NS}/activations/{activation_id}/logs").get_json() == {"logs": []}
    listed = shop.get(f"{NS}/activations?name=shop/add").get_json()
    assert len(listed) == 4 and {a["name"] for a in listed} == {"add"}


def test_application_and_developer_errors_answer_502(shop) -> None:
    put_action(shop, "fails", "def main(args):\n    raise ValueError('no way')\n")
    failed = invoke(shop, "fails")
    assert failed.status_code == 502 and failed.get_json() == {"error": "no way"}
    record = invoke(shop, "fails", query="blocking=true").get_json()
    assert record["response"]["status"] == "application error" and record["response"]["success"] is False
    # The record comes back before its logs are collected, as from OpenWhisk's invoker; they are read after
    assert record["logs"] == []
    logs = shop.get(f"{NS}/activations/{record['activationId']}/logs").get_json()["logs"]
    assert any("ValueError: no way" in line for line in logs)


def test_zip_runs_with_its_own_virtualenv(shop) -> None:
    assert put_action(shop, "zipped", venv_zip(ZIP_MAIN), binary=True).status_code == 200
    got = invoke(shop, "zipped")
    assert got.status_code == 200, got.get_json()
    result = got.get_json()
    assert result["value"] == "from the zip"
    assert result["prefix"].endswith("virtualenv")  # activate_this.py ran
    path = result["path"]
    assert path[0].endswith(f"virtualenv/lib/{PY}/site-packages")  # the zip's dependencies come first
    assert not any("site-packages" in p for p in path[1:])  # none of the emulator's
    assert not any(p.startswith(sys.prefix) for p in path)  # nothing of the emulator's venv at all
    # Like OpenWhisk, base64 code is a zip even without the `binary` flag (the npm client omits it).
    put_action(shop, "unflagged", exec={"kind": "python:3.11", "code": venv_zip(ZIP_MAIN)})
    assert shop.get(f"{NS}/actions/shop/unflagged").get_json()["exec"]["binary"] is True
    assert invoke(shop, "unflagged").get_json()["value"] == "from the zip"


def test_zip_cannot_import_the_emulators_packages(shop, controller) -> None:
    main = "import flask\n\n\ndef main(args):\n    return {'flask': flask.__name__}\n"
    put_action(shop, "leaky", venv_zip(main), binary=True)
    failed = invoke(shop, "leaky")
    assert failed.status_code == 502
    assert failed.get_json() == {"error": "The action did not initialize and exited unexpectedly."}
    record = shop.get(f"{NS}/activations/{failed.headers['x-openwhisk-activation-id']}").get_json()
    assert record["response"]["status"] == "action developer error"
    assert any("ModuleNotFoundError: No module named 'flask'" in line for line in record["logs"])
    # Plain code is isolated the same way.
    put_action(shop, "leaky-source", main)
    assert invoke(shop, "leaky-source").status_code == 502


def test_bad_zip_and_runtime_are_refused(shop) -> None:
    bad = put_action(shop, "bad", base64.b64encode(b"not a zip").decode(), binary=True)
    assert bad.status_code == 400
    node = put_action(shop, "node", "function main() {}", kind="nodejs:20")
    assert node.status_code == 400 and "The specified runtime 'nodejs:20' is not supported" in node.get_json()["error"]
    no_exec = shop.put(f"{NS}/actions/shop/none", json={"name": "none"})
    assert no_exec.status_code == 400
    for name in ("a!b", "-dash", "trailing ", "é"):  # OpenWhisk's entity name rule
        illegal = put_action(shop, name)
        assert (illegal.status_code, illegal.get_json()["error"]) == (400, "The name of the entity contains illegal characters.")
    assert put_action(shop, "a b.c@d&e-f_1").status_code == 200
    assert put_package(shop, "-pk").status_code == 400


def test_sequence_web_export_and_raw(shop) -> None:
    put_action(shop, "first", "def main(a):\n    return {'trail': ['first'], 'n': a.get('n', 0) + 1}\n")
    put_action(shop, "second", "def main(a):\n    return {'trail': a['trail'] + ['second'], 'n': a['n'] * 10, "
                               "'P': a.get('P')}\n")
    seq = put_action(shop, "both", exec={"kind": "sequence", "components": ["/_/shop/first", "/guest/shop/second"]},
                     annotations=[{"key": "web-export", "value": True}])
    assert seq.status_code == 200, seq.get_json()
    assert seq.get_json()["exec"] == {"kind": "sequence", "components": ["/guest/shop/first", "/guest/shop/second"]}
    assert invoke(shop, "both", {"n": 4}).get_json() == {"trail": ["first", "second"], "n": 50, "P": "package"}
    record = invoke(shop, "both", {"n": 4}, query="blocking=true").get_json()  # a sequence's logs: its components
    assert [shop.get(f"{NS}/activations/{i}").get_json()["name"] for i in record["logs"]] == ["first", "second"]
    web = shop.post("/api/v1/web/guest/shop/both.json", json={"n": 1})
    assert web.status_code == 200 and web.get_json()["n"] == 20
    assert shop.get("/api/v1/web/guest/shop/first.json").status_code == 404  # not web-exported
    missing = put_action(shop, "broken", exec={"kind": "sequence", "components": ["/_/shop/nope"]})
    assert missing.status_code == 400 and missing.get_json()["error"] == "Sequence component does not exist."
    # a component deleted since: the sequence fails there, and OpenWhisk makes no record for it
    put_action(shop, "gone", "def main(a):\n    return a\n")
    assert put_action(shop, "dangling", exec={"kind": "sequence", "components": ["/_/shop/first", "/_/shop/gone"]}
                      ).status_code == 200
    assert shop.delete(f"{NS}/actions/shop/gone").status_code == 200
    record = invoke(shop, "dangling", query="blocking=true").get_json()
    assert record["response"]["result"] == {"error": "Sequence component does not exist."}
    assert record["response"]["status"] == "application error"
    assert [shop.get(f"{NS}/activations/{i}").get_json()["name"] for i in record["logs"]] == ["first"]
    assert shop.get(f"{NS}/activations?name=shop/gone").get_json() == []
    # a deployed sequence may compose manifest actions too
    mixed = put_action(shop, "mixed", exec={"kind": "sequence", "components": ["/_/shop/first", "/_/demo/step-a"]})
    assert mixed.status_code == 200
    assert invoke(shop, "mixed").get_json()["trail"] == ["first", "a"]

    raw_code = ("import base64\n\ndef main(a):\n    return {'statusCode': 201, 'headers': {'X-Kind': 'raw'}, "
                "'body': {'query': a['__ow_query'], 'body': base64.b64decode(a['__ow_body']).decode(), "
                "'path': a['__ow_path']}}\n")
    put_action(shop, "hook", raw_code, annotations=[{"key": "web-export", "value": True},
                                                     {"key": "raw-http", "value": True}])
    resp = shop.post("/api/v1/web/guest/shop/hook/deep?a=1&b=2", data='{"k": 1}', content_type="application/json")
    assert resp.status_code == 201 and resp.headers["X-Kind"] == "raw"
    assert resp.get_json() == {"query": "a=1&b=2", "body": '{"k": 1}', "path": "/deep"}


def test_conflict_then_overwrite_retires_old_workers(shop, controller) -> None:
    put_action(shop, "add", parameters=[{"key": "y", "value": 2}])
    first = invoke(shop, "add", {"x": 1}).get_json()
    assert controller.worker_count("shop/add") == 1
    conflict = put_action(shop, "add", "def main(a):\n    return {'v': 2}\n")
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "resource already exists"
    assert invoke(shop, "add", {"x": 1}).get_json()["pid"] == first["pid"]  # still the warm worker
    updated = put_action(shop, "add", "import os\n\ndef main(a):\n    return {'v': 2, 'pid': os.getpid()}\n",
                         overwrite=True)
    assert updated.status_code == 200 and updated.get_json()["version"] == "0.0.2"
    deadline = time.monotonic() + 3
    while os.path.exists(f"/proc/{first['pid']}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{first['pid']}"), "the old worker outlived the redeploy"
    second = invoke(shop, "add").get_json()
    assert second["v"] == 2 and second["pid"] != first["pid"]
    # an update that leaves exec out keeps the code and changes the rest
    kept = shop.put(f"{NS}/actions/shop/add?overwrite=true", json={"parameters": [{"key": "z", "value": 1}]})
    assert kept.status_code == 200 and "'v': 2" in kept.get_json()["exec"]["code"]


@pytest.mark.parametrize("limits, message", [
    ({"timeout": 999999999}, "duration 999999999 milliseconds exceeds allowed threshold of 600000 milliseconds"),
    ({"timeout": 50}, "duration 50 milliseconds below allowed threshold of 100 milliseconds"),
    ({"memory": 1}, "memory size 1 MB below allowed threshold of 128 MB"),
    ({"logs": 11}, "log size 11 MB exceeds allowed threshold of 10 MB"),
    ({"concurrency": 0}, "concurrency 0 below allowed threshold of 1"),
])
def test_limits_out_of_bounds_are_refused_in_openwhisks_words(shop, limits: dict, message: str) -> None:
    refused = put_action(shop, "bounded", limits=limits)
    assert (refused.status_code, refused.get_json()["error"]) == (400, f"requirement failed: {message}")


def test_final_parameters_cannot_be_overridden(shop) -> None:
    put_action(shop, "locked", parameters=[{"key": "y", "value": 2}], annotations=[{"key": "final", "value": True}])
    assert invoke(shop, "locked", {"x": 1}).status_code == 200
    refused = invoke(shop, "locked", {"x": 1, "y": 5})
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "Request defines parameters that are not allowed (e.g., reserved properties)."


def test_delete_list_and_unknown(shop) -> None:
    for name in ("a", "b", "c"):
        put_action(shop, name)
    listed = shop.get(f"{NS}/actions").get_json()
    names = [f"{a['namespace']}/{a['name']}" for a in listed]
    assert names[:3] == ["guest/shop/c", "guest/shop/b", "guest/shop/a"]  # newest first
    assert "guest/demo/echo" in [f"{a['namespace']}/{a['name']}" for a in shop.get(f"{NS}/actions?limit=0").get_json()]
    assert all("code" not in a["exec"] and "parameters" not in a for a in listed)
    assert [a["name"] for a in shop.get(f"{NS}/actions?limit=1&skip=1").get_json()] == ["b"]
    assert shop.get(f"{NS}/actions?limit=500").status_code == 400
    # wsk action list PACKAGE: GET .../actions/PACKAGE/
    assert [a["name"] for a in shop.get(f"{NS}/actions/shop/").get_json()] == ["c", "b", "a"]
    demo = {a["name"] for a in shop.get(f"{NS}/actions?limit=0").get_json() if a["namespace"] == "guest/demo"}
    assert "echo" in demo and {a["name"] for a in shop.get(f"{NS}/actions/demo/?limit=0").get_json()} == demo
    assert shop.get(f"{NS}/actions/shop/?count=true").get_json() == {"actions": 3}
    assert shop.get(f"{NS}/actions/nopkg/").status_code == 404
    gone = shop.delete(f"{NS}/actions/shop/b")
    assert gone.status_code == 200 and gone.get_json()["name"] == "b"
    assert shop.delete(f"{NS}/actions/shop/b").status_code == 404
    unknown = invoke(shop, "b")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"] == "The requested resource does not exist." and len(unknown.get_json()["code"]) == 32
    assert shop.delete(f"{NS}/actions/demo/echo").status_code == 409  # manifest actions are read-only here
    for method, path, named in (("get", "actions", "other"), ("get", "packages/shop", "other/shop"),
                                ("put", "actions/shop/b", "other/shop/b"), ("post", "actions/demo/echo", "other/demo/echo"),
                                ("delete", "actions/b", "other/b"), ("get", "triggers", "other")):
        refused = getattr(shop, method)(f"/api/v1/namespaces/other/{path}")
        assert refused.status_code == 403, (method, path)
        assert refused.get_json()["error"] == f"The supplied authentication is not authorized to access '{named}'."
    assert shop.get(f"{NS}/nothing-here").get_json()["error"] == "The requested resource does not exist."


def test_deployed_action_shadows_the_manifests(client) -> None:
    code = "def main(a):\n    return {'deployed': True}\n"
    assert client.put(f"{NS}/actions/demo/echo", json={"exec": {"kind": "python:3", "code": code}}).status_code == 200
    assert client.post(f"{NS}/actions/demo/echo?blocking=true&result=true").get_json() == {"deployed": True}
    assert client.get("/api/v1/web/guest/demo/echo.json").status_code == 404  # the deployment is not web-exported


def test_deploying_over_a_busy_manifest_action_lets_its_activation_finish(client, controller) -> None:
    """As a redeploy in OpenWhisk: the manifest action's in-flight activation ends on the old code,
    the next ones run the deployment, and the old worker goes once it is done."""
    running: dict = {}
    busy = threading.Thread(target=lambda: running.update(
        controller.invoke("demo/sleep", {"seconds": 0.8}).response.to_dict()))
    busy.start()
    deadline = time.monotonic() + 10
    while controller.worker_count("demo/sleep") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the old worker is now in its activation
    code = "def main(a):\n    return {'deployed': True}\n"
    assert client.put(f"{NS}/actions/demo/sleep", json={"exec": {"kind": "python:3", "code": code}}).status_code == 200
    assert client.post(f"{NS}/actions/demo/sleep?blocking=true&result=true").get_json() == {"deployed": True}
    assert busy.is_alive(), "the old activation should still be running when the deployment answers"
    busy.join(10)
    assert running["success"] and running["result"]["slept"] == 0.8, running
    old = running["result"]["pid"]
    while not gone(old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(old), "the manifest action's worker outlived its last activation"


def test_a_request_that_found_the_replaced_action_leaves_the_deployments_pool(client, controller) -> None:
    """A request that resolved the manifest action just before a deployment replaced it runs the old
    code on a worker of its own, which goes after it; the deployment's warm worker stays."""
    stale = controller.find("demo/echo")
    code = "def main(a):\n    return {'deployed': True, 'pid': __import__('os').getpid()}\n"
    assert client.put(f"{NS}/actions/demo/echo", json={"exec": {"kind": "python:3", "code": code}}).status_code == 200
    warm = controller.invoke("demo/echo").response.result["pid"]
    old = controller._run(stale, {"x": 1}, None).response.result
    assert old["params"]["x"] == 1 and old["pid"] != warm  # the old code, in a process of its own
    deadline = time.monotonic() + 10
    while not gone(old["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(old["pid"]), "the one-off worker outlived its activation"
    assert controller.invoke("demo/echo").response.result == {"deployed": True, "pid": warm}
    assert controller.worker_count("demo/echo") == 1


@pytest.mark.parametrize("timeout", ["0", "-5", "60001"])
def test_a_blocking_wait_is_bounded_as_in_openwhisk(client, timeout: str) -> None:
    resp = client.post(f"{NS}/actions/demo/echo?blocking=true&result=true&timeout={timeout}")
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "Timeout must be number of milliseconds up to 60000."
    assert client.post(f"{NS}/actions/demo/echo?blocking=true&result=true&timeout=60000").status_code == 200


def test_a_record_starts_when_a_worker_takes_it(make_controller) -> None:
    """The wait for a busy worker is the waitTime annotation, outside start and duration (OpenWhisk)."""
    controller = make_controller(workers_per_action=1)
    controller.invoke("demo/sleep", {"seconds": 0})  # a warm worker: no init time below
    with ThreadPoolExecutor(2) as pool:
        first, second = sorted(pool.map(lambda _: controller.invoke("demo/sleep", {"seconds": 0.5}), range(2)),
                               key=lambda act: act.start)
    assert second.annotation("waitTime") >= 400 and second.start >= first.end - 5
    assert second.duration < 900, second.duration  # its own half second, not the wait before it


def test_lists_count_filter_by_time_and_summarise_as_openwhisk(client, controller) -> None:
    """What the npm client's list calls send: count=true, since / upto, docs; and namespaces.get,
    which lists triggers and rules too."""
    for n in range(3):
        controller.invoke("demo/echo", {"n": n})
    records = client.get(f"{NS}/activations?docs=true").get_json()
    assert [r["response"]["result"]["params"]["n"] for r in records] == [2, 1, 0]
    assert client.get(f"{NS}/activations?count=true").get_json() == {"activations": 3}
    assert client.get(f"{NS}/activations?count=true&skip=1").get_json() == {"activations": 2}
    assert client.get(f"{NS}/activations?count=true&docs=true").get_json()["error"] == (
        "The parameter 'docs' is not permitted with 'count'.")
    middle = records[1]["start"]
    since = client.get(f"{NS}/activations?since={middle}").get_json()
    upto = client.get(f"{NS}/activations?upto={middle}").get_json()
    assert [a["activationId"] for a in since] == [r["activationId"] for r in records if r["start"] >= middle]
    assert [a["activationId"] for a in upto] == [r["activationId"] for r in records if r["start"] <= middle]
    assert client.get(f"{NS}/activations?since=yesterday").status_code == 400
    summary = client.get(f"{NS}/activations?limit=1").get_json()[0]
    assert summary["statusCode"] == 0 and "logs" not in summary and "response" not in summary
    actions = client.get(f"{NS}/actions").get_json()
    assert client.get(f"{NS}/actions?count=true").get_json() == {"actions": len(actions)}
    assert client.get(f"{NS}/packages?count=true").get_json() == {"packages": 1}
    assert client.get(f"{NS}/triggers").get_json() == [] and client.get(f"{NS}/rules").get_json() == []
    assert client.get(f"{NS}/rules?count=true").get_json() == {"rules": 0}
    assert client.get(f"{NS}/feeds").status_code == 404


def test_an_action_version_counts_its_updates_and_reaches_the_activation(shop) -> None:
    code = "import os\ndef main(a):\n    return {'v': os.environ['__OW_ACTION_VERSION']}\n"
    created = put_action(shop, "ver", code).get_json()
    assert {"key": "provide-api-key", "value": False} in created["annotations"]  # OpenWhisk marks a new action
    put_action(shop, "ver", code, overwrite=True)
    assert put_action(shop, "ver", code, overwrite=True).get_json()["version"] == "0.0.3"
    record = invoke(shop, "ver", query="blocking=true").get_json()
    assert record["version"] == "0.0.3" and record["response"]["result"] == {"v": "0.0.3"}


def test_deployments_survive_a_restart_with_a_state_file(make_controller, tmp_path) -> None:
    """--state FILE: a small JSON index, each action's code a file of its own beside it (a zip as a
    zip, not base64 inside JSON); a restart runs them again; code nothing uses any more is removed."""
    state = tmp_path / "entities.json"
    client = authorized(create_app(make_controller(state_file=state)).test_client())
    put_package(client, parameters=[{"key": "P", "value": "kept"}])
    put_action(client, "add", parameters=[{"key": "y", "value": 1}])
    zipped = venv_zip(ZIP_MAIN)
    put_action(client, "zipped", zipped, binary=True)
    put_action(client, "seq", exec={"kind": "sequence", "components": ["/_/shop/zipped", "/_/demo/step-a"]})
    code = tmp_path / "entities.code"
    files = {f.suffix: f for f in code.iterdir()}
    assert sorted(files) == [".py", ".zip"] and files[".zip"].read_bytes() == base64.b64decode(zipped)
    assert files[".py"].read_text() == ADD
    assert '"code":' not in state.read_text() and state.stat().st_size < 4096
    assert state.stat().st_mode & 0o077 == 0 and files[".zip"].stat().st_mode & 0o077 == 0
    restarted = authorized(create_app(make_controller(state_file=state)).test_client())
    assert {k: v for k, v in invoke(restarted, "add", {"x": 1}).get_json().items() if k != "pid"} == {
        "sum": 2, "pkg": "kept"}
    assert invoke(restarted, "zipped").get_json()["value"] == "from the zip"
    assert invoke(restarted, "seq").status_code == 200
    assert restarted.get(f"{NS}/actions/shop/zipped").get_json()["exec"]["code"] == zipped
    assert restarted.delete(f"{NS}/actions/shop/zipped").status_code == 200
    assert [f.suffix for f in code.iterdir()] == [".py"]


def test_real_server_with_requests_basic_auth(controller) -> None:
    srv = make_server("127.0.0.1", 0, create_app(controller), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_port}{NS}"
    try:
        assert requests.put(f"{base}/packages/shop", json={}, timeout=10).status_code == 401
        auth = tuple(AUTH)
        assert requests.put(f"{base}/packages/shop", json={}, auth=auth, timeout=10).status_code == 200
        zipped = {"exec": {"kind": "python:3.11", "code": venv_zip(ZIP_MAIN), "binary": True}}
        assert requests.put(f"{base}/actions/shop/zipped?overwrite=true", json=zipped, auth=auth,
                            timeout=10).status_code == 200
        answers: list[requests.Response] = []
        calls = [threading.Thread(target=lambda: answers.append(requests.post(
            f"{base}/actions/shop/zipped?blocking=true&result=true", json={}, auth=auth, timeout=30)))
            for _ in range(3)]
        for t in calls:
            t.start()
        for t in calls:
            t.join()
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert {r.json()["value"] for r in answers} == {"from the zip"}
        assert requests.get(f"{base}/actions", auth=("guest", GUEST_KEY), timeout=10).status_code == 401
    finally:
        srv.shutdown()
        thread.join(5)
