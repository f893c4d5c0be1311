"""The activations REST API, request size limit, and a real server thread hit with requests."""
from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server

from emulator.app import create_app
from tests.emulator.conftest import AUTH, authorized

API = "/api/v1/namespaces/guest/activations"


def test_activations_api(client, controller) -> None:
    ids = [controller.invoke("demo/echo", {"i": i}).activation_id for i in range(4)]
    listed = client.get(API).get_json()
    assert [a["activationId"] for a in listed] == ids[::-1]  # newest first
    page = client.get(f"{API}?limit=2&skip=1").get_json()
    assert [a["activationId"] for a in page] == [ids[2], ids[1]]
    one = client.get(f"{API}/{ids[0]}").get_json()
    assert one["activationId"] == ids[0] and one["name"] == "echo" and one["namespace"] == "guest"
    assert one["response"]["success"] is True and "statusCode" not in one["response"]  # as OpenWhisk shows it
    assert client.get(f"{API}/{ids[0]}/logs").get_json() == {"logs": []}
    result = client.get(f"{API}/{ids[0]}/result").get_json()
    assert result["success"] is True and result["result"]["params"]["i"] == 0
    assert client.get("/api/v1/namespaces/_/activations?limit=1").get_json()[0]["activationId"] == ids[3]


def test_activations_api_name_filter_and_errors(client, controller) -> None:
    controller.invoke("demo/echo", {})
    controller.invoke("demo/raises", {})
    assert [a["name"] for a in client.get(f"{API}?name=demo/raises").get_json()] == ["raises"]
    missing = client.get(f"{API}/{'0' * 32}")
    assert missing.status_code == 404 and missing.get_json()["error"] == "The requested resource does not exist."
    for bad, error in (("foo", "Activation id length is 3 but must be 32."),
                       ("A" * 32, "The activation id is not valid.")):  # ActivationId.parse
        refused = client.get(f"{API}/{bad}/logs")
        assert (refused.status_code, refused.get_json()["error"]) == (400, error)
    too_many = client.get(f"{API}?limit=201")
    assert too_many.status_code == 400
    assert too_many.get_json()["error"] == "The value '201' is not in the range of 0 to 200 for activations."
    assert client.get(f"{API}?skip=x").status_code == 400
    other = client.get("/api/v1/namespaces/other/activations")  # OpenWhisk's entitlement check: 403
    assert other.status_code == 403
    assert other.get_json()["error"] == "The supplied authentication is not authorized to access 'other'."
    one = client.get(f"/api/v1/namespaces/other/activations/{'0' * 32}/logs")
    assert one.get_json()["error"] == f"The supplied authentication is not authorized to access 'other/{'0' * 32}'."


def test_default_list_limit_is_30(make_controller) -> None:
    controller = make_controller()
    for i in range(32):
        controller.invoke("demo/echo", {})
    client = authorized(create_app(controller).test_client())
    assert len(client.get(API).get_json()) == 30
    assert len(client.get(f"{API}?limit=200").get_json()) == 32


def test_body_over_one_megabyte_is_rejected(client, controller) -> None:
    resp = client.post("/api/v1/web/guest/demo/echo", data=b"x" * (1024 * 1024 + 1),
                       content_type="application/octet-stream")
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "Request larger than allowed: 1048577 > 1048576 bytes."
    assert len(controller.activations) == 0
    ok = client.post("/api/v1/web/guest/demo/web.json", data=b"x" * 1024 * 1024, content_type="text/plain")
    assert ok.status_code == 200


@pytest.fixture
def server(controller):
    """The app on a real socket, in a thread, as the dev server serves it."""
    srv = make_server("127.0.0.1", 0, create_app(controller), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)


def test_real_server_concurrent_web_calls(server, controller) -> None:
    results: list[requests.Response] = []

    def call(i: int) -> None:
        results.append(requests.get(f"{server}/api/v1/web/guest/demo/sleep.json?seconds=0.3&i={i}", timeout=10))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200, 200]
    assert len({r.json()["pid"] for r in results}) == 3  # overlapping calls ran on separate workers
    raw = requests.post(f"{server}/api/v1/web/guest/demo/raw.json?a=1", data=b"{}",
                        headers={"Content-Type": "application/json"}, timeout=10).json()["params"]
    assert raw["__ow_headers"]["x-forwarded-uri"] == "/api/v1/web/guest/demo/raw.json?a=1"
    assert raw["__ow_headers"]["host"] == server.removeprefix("http://")
    listed = requests.get(f"{server}{API}?limit=4", auth=tuple(AUTH), timeout=10).json()
    assert len(listed) == 4 and listed[0]["name"] == "raw"
