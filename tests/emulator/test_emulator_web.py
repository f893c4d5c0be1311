"""Web actions through the Flask app (test client): OpenWhisk's request and response rules."""
from __future__ import annotations

import base64
import json
import time

import pytest

BASE = "/api/v1/web/guest/demo"
ERROR_PROCESSING = "There was an error processing your request."
NOT_VALID_HTTP = "Response is not valid 'message/http'."
NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."


def params_of(resp) -> dict:
    """The echo action's params, from its JSON answer (no statusCode -> 200 with the body)."""
    return resp.get_json()["params"] if "params" in resp.get_json() else resp.get_json()


def echo(client, path: str = "", **kwargs):
    resp = client.open(f"{BASE}/web{path}", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.mark.parametrize("path", [
    "/api/v1/web/guest/demo/hidden",     # exists, not a web action
    "/api/v1/web/guest/demo/nope",       # does not exist
    "/api/v1/web/other/demo/echo",       # another namespace
    "/api/v1/web/_/demo/echo",           # `_` is no namespace in a web URL (it is in the REST API's)
    "/api/v1/web/guest/default/echo",    # no such action outside a package
])
def test_only_web_entities_are_reachable(client, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["error"] == "The requested resource does not exist." and len(body["code"]) == 32


def test_request_context_params(client) -> None:
    got = echo(client, "/extra/rest?mode=echo", method="PUT", headers={"X-Custom-Thing": "v"})
    assert got["__ow_method"] == "put"
    assert got["__ow_path"] == "/extra/rest"
    assert got["__ow_headers"]["x-custom-thing"] == "v"
    assert all(name == name.lower() for name in got["__ow_headers"])
    assert "__ow_query" not in got and "__ow_body" not in got


def test_gateway_headers(client) -> None:
    got = echo(client, "/r?mode=echo&b=2", headers={"X-Forwarded-Uri": "/forged", "Host": "shop.example:9080"})
    headers = got["__ow_headers"]
    assert headers["x-forwarded-uri"] == "/api/v1/web/guest/demo/web/r?mode=echo&b=2"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "shop.example:9080" and headers["host"] == "shop.example:9080"
    got = echo(client, "?mode=echo", headers={"X-Forwarded-Proto": "https"})
    assert got["__ow_headers"]["x-forwarded-proto"] == "https"  # as received from a proxy in front


def test_query_and_body_promoted_body_wins(client) -> None:
    result = client.post(f"{BASE}/echo.json?SHARED=query&q=1", json={"SHARED": "body", "b": [1]}).get_json()
    params = result["params"]
    assert params["SHARED"] == "body" and params["q"] == "1" and params["b"] == [1]
    assert params["PKG_SETTING"] == "from-package"  # defaults still under everything
    result = client.get(f"{BASE}/echo.json?SHARED=query").get_json()
    assert result["params"]["SHARED"] == "query"  # query over the action's default
    form = client.post(f"{BASE}/echo.json", data={"f": "form value"}).get_json()["params"]
    assert form["f"] == "form value"
    text = client.post(f"{BASE}/echo.json", data="plain", content_type="text/plain").get_json()["params"]
    assert text["__ow_body"] == "plain"


def test_raw_web_action(client) -> None:
    body = json.dumps({"a": 1}).encode()
    params = client.post("/api/v1/web/guest/demo/raw.json?x=1&x=2&__ow_method=z", data=body,
                         content_type="application/json").get_json()["params"]
    assert params["__ow_query"] == "x=1&x=2&__ow_method=z"  # unparsed, and never checked
    assert base64.b64decode(params["__ow_body"]) == body  # OpenWhisk base64-encodes JSON for raw actions
    assert params["__ow_method"] == "post" and "x" not in params
    text = client.post("/api/v1/web/guest/demo/raw.json", data="a=b", content_type="text/plain").get_json()
    assert text["params"]["__ow_body"] == "a=b"
    blob = client.put("/api/v1/web/guest/demo/raw.json", data=b"\x00\xff",
                      content_type="application/octet-stream").get_json()
    assert base64.b64decode(blob["params"]["__ow_body"]) == b"\x00\xff"
    empty = client.get("/api/v1/web/guest/demo/raw.json").get_json()["params"]
    assert empty["__ow_body"] == "" and empty["__ow_query"] == ""


@pytest.mark.parametrize("url, kwargs", [
    (f"{BASE}/echo?__ow_method=post", {}),
    (f"{BASE}/echo", {"json": {"__ow_headers": {}}}),
    (f"{BASE}/echo-final?LOCKED=mine", {}),
    (f"{BASE}/echo-final", {"json": {"LOCKED": "mine"}}),
])
def test_reserved_and_final_parameters_are_rejected(client, url: str, kwargs: dict) -> None:
    resp = client.post(url, **kwargs)
    assert resp.status_code == 400 and resp.get_json()["error"] == NOT_ALLOWED


def test_final_action_still_takes_other_params(client) -> None:
    params = client.get(f"{BASE}/echo-final.json?other=1").get_json()["params"]
    assert params["LOCKED"] == "server-side" and params["other"] == "1"


def test_http_result_shapes(client) -> None:
    resp = client.get(f"{BASE}/web?mode=http")
    assert resp.status_code == 201 and resp.get_json() == {"ok": True}
    assert resp.headers["X-Answer"] == "42" and resp.headers.getlist("X-Multi") == ["a", "b"]
    assert resp.headers["Content-Type"] == "application/json"
    act_id = resp.headers["x-openwhisk-activation-id"]
    assert len(act_id) == 32

    text = client.get(f"{BASE}/web?mode=text")
    assert text.status_code == 200 and text.data == b"hello" and text.headers["Content-Type"].startswith("text/html")

    empty = client.get(f"{BASE}/web?mode=empty")
    assert empty.status_code == 204 and empty.data == b""

    binary = client.get(f"{BASE}/web?mode=binary")
    assert binary.status_code == 200 and binary.data.startswith(b"\x89PNG")
    assert binary.headers["Content-Type"] == "image/png"


def test_error_results(client) -> None:
    denied = client.get(f"{BASE}/web?mode=apperror")
    assert denied.status_code == 403 and denied.get_json() == {"message": "no"}
    assert denied.headers["X-Why"] == "denied"
    for mode in ("stringerror", "badstatus"):
        resp = client.get(f"{BASE}/web?mode={mode}")
        assert resp.status_code == 400 and resp.get_json()["error"] == NOT_VALID_HTTP
    # a plain dict without statusCode or body is an empty answer, as OpenWhisk's .http gives it
    assert client.get(f"{BASE}/echo?x=1").status_code == 204


def test_developer_errors(client, controller) -> None:
    crash = client.get(f"{BASE}/exits")
    # OpenWhisk's web API answers every developer error with 400 and this message (WebActions.scala)
    assert crash.status_code == 400 and crash.get_json()["error"] == ERROR_PROCESSING
    record = controller.activations.get(crash.headers["x-openwhisk-activation-id"])
    assert record.response.result == {"error": "The action did not produce a valid response and exited unexpectedly."}
    slow = client.get(f"{BASE}/sleep?seconds=5")
    assert slow.status_code == 400 and slow.get_json()["error"] == ERROR_PROCESSING
    assert controller.activations.get(slow.headers["x-openwhisk-activation-id"]).annotation("timeout") is True


def test_activation_id_header_names_the_record(client, controller) -> None:
    resp = client.get(f"{BASE}/web?mode=http")
    record = controller.activations.get(resp.headers["x-openwhisk-activation-id"])
    assert record.name == "web" and record.response.result["statusCode"] == 201


def test_json_extension_and_cors(client) -> None:
    resp = client.get(f"{BASE}/web.json?mode=stringerror")
    assert resp.status_code == 400 and resp.get_json()["error"] == "Response is not valid 'application/json'."
    resp = client.get(f"{BASE}/web.json?mode=http")
    assert resp.status_code == 200 and resp.get_json()["statusCode"] == 201
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    pre = client.options(f"{BASE}/web", headers={"Access-Control-Request-Headers": "X-Thing"})
    assert pre.status_code == 200 and pre.headers["Access-Control-Allow-Headers"] == "X-Thing"
    assert "x-openwhisk-activation-id" not in pre.headers  # answered without running the action


def test_web_sequence(client, controller) -> None:
    resp = client.post("/api/v1/web/guest/demo/pipeline.json?first_only=q", json={"fail_at": None})
    assert resp.status_code == 200
    result = resp.get_json()
    assert result["trail"] == ["a", "b", "c"]
    assert result["seen"]["a"]["first_only"] == "q" and result["seen"]["b"]["first_only"] is None
    seq = controller.activations.get(resp.headers["x-openwhisk-activation-id"])
    assert seq.name == "pipeline" and len(seq.logs) == 3
    failed = client.post("/api/v1/web/guest/demo/pipeline", json={"fail_at": "a"})
    assert failed.status_code == 400 and failed.get_json()["error"] == NOT_VALID_HTTP


def test_a_sequence_has_no_parameters_of_its_own(client) -> None:
    """As in OpenWhisk: a sequence's parameters are discarded when it is deployed (it keeps only its
    components, as `_actions`), its package's reach none of its components (the first gets the
    caller's payload alone, over its own inputs), and `final` protects the package's names from a
    caller, over the web as over REST."""
    body = {"exec": {"kind": "sequence", "components": ["/_/demo/step-a"]},
            "parameters": [{"key": "COLOR", "value": "server"}],
            "annotations": [{"key": "web-export", "value": True}, {"key": "final", "value": True}]}
    assert client.put("/api/v1/namespaces/_/actions/demo/locked", json=body).status_code == 200
    stored = client.get("/api/v1/namespaces/_/actions/demo/locked").get_json()["parameters"]
    assert stored == [{"key": "_actions", "value": ["/guest/demo/step-a"]}]
    manifest_sequence = client.get("/api/v1/namespaces/_/actions/demo/pipeline").get_json()  # the same shape
    assert manifest_sequence["parameters"] == [{"key": "_actions", "value": manifest_sequence["exec"]["components"]}]
    seen = client.get(f"{BASE}/locked.json?first_only=1").get_json()["seen"]["a"]
    assert seen == {"COLOR": "red", "MINE": "a-default", "first_only": "1"}  # step-a's own COLOR
    assert client.get(f"{BASE}/locked.json?COLOR=client").get_json()["seen"]["a"]["COLOR"] == "client"
    for resp in (client.get(f"{BASE}/locked.json?PKG_SETTING=client"),  # demo's package parameter
                 client.post(f"{BASE}/locked", json={"SHARED": "x"}),
                 client.post("/api/v1/namespaces/_/actions/demo/locked?blocking=true", json={"SHARED": "x"})):
        assert resp.status_code == 400 and resp.get_json()["error"] == NOT_ALLOWED


def test_a_web_call_waits_at_most_the_limit_then_answers_202(client, controller) -> None:
    """OpenWhisk waits 60 s for a web call's activation, then answers 202 while it goes on."""
    controller.web_gateway.max_wait_ms = 300  # sleep's timeout (1 s) is longer: the wait is bounded
    resp = client.get(f"{BASE}/sleep.json?seconds=0.8")
    assert resp.status_code == 202 and resp.get_json()["error"] == "Response not yet ready."
    deadline = time.monotonic() + 10
    while not controller.activations.list(name="sleep") and time.monotonic() < deadline:
        time.sleep(0.05)
    (record,) = controller.activations.list(name="sleep")
    assert record.response.success and record.response.result["slept"] == "0.8"  # it went on to the end
    assert resp.headers["x-openwhisk-activation-id"] == record.activation_id  # the 202 said where to look
    assert client.get(f"{BASE}/sleep.json?seconds=0.05").status_code == 200


def test_require_whisk_auth_and_ow_user(make_controller) -> None:
    """`require-whisk-auth` (a secret for X-Require-Whisk-Auth, or true for the API key) is enforced as
    OpenWhisk enforces it, and a call that carried the API key tells the action who made it."""
    from emulator.app import create_app
    from tests.emulator.conftest import AUTH_HEADER, GUEST_KEY

    client = create_app(make_controller(api_key=GUEST_KEY)).test_client()
    code = "def main(args):\n    return {'user': args.get('__ow_user')}\n"
    for name, required in (("secret", "s3cret"), ("number", 42), ("keyed", True), ("open", False), ("null", None)):
        annotations = [{"key": "web-export", "value": True}, {"key": "require-whisk-auth", "value": required}]
        done = client.put(f"/api/v1/namespaces/_/actions/demo/{name}", headers={"Authorization": AUTH_HEADER},
                          json={"exec": {"kind": "python:3.11", "code": code}, "annotations": annotations})
        assert done.status_code == 200, done.get_json()

    def call(name: str, **headers: str):
        return client.get(f"{BASE}/{name}.json", headers=headers)

    for refused in (call("secret"), call("secret", **{"X-Require-Whisk-Auth": "wrong"}), call("number"),
                    call("keyed"), call("keyed", Authorization="Basic " + base64.b64encode(b"a:b").decode()),
                    call("null", Authorization=AUTH_HEADER)):  # a value OpenWhisk cannot read lets no one in
        assert refused.status_code == 401
        assert refused.get_json()["error"] == "Authentication is possible but has failed or not yet been provided."
    assert call("secret", **{"X-Require-Whisk-Auth": "s3cret"}).get_json() == {"user": None}
    assert call("number", **{"X-Require-Whisk-Auth": "42"}).get_json() == {"user": None}
    assert call("keyed", Authorization=AUTH_HEADER).get_json() == {"user": "guest"}
    assert call("open").get_json() == {"user": None}
    assert client.options(f"{BASE}/keyed.json").status_code == 200  # a preflight needs no credentials


def test_http_string_bodies_as_openwhisk_reads_them(client) -> None:
    """interpretHttpResponse: a text type is answered with charset UTF-8; a JSON type whose string body
    looks like base64 is decoded, as OpenWhisk still does for old web actions; other JSON text is sent."""
    code = ("def main(args):\n"
            "    return {'headers': {'Content-Type': args['type']}, 'body': args['body']}\n")
    annotations = [{"key": "web-export", "value": True}]
    assert client.put("/api/v1/namespaces/_/actions/demo/shaped", json={
        "exec": {"kind": "python:3.11", "code": code}, "annotations": annotations}).status_code == 200

    def call(content_type: str, body: str):
        return client.post(f"{BASE}/shaped.http", json={"type": content_type, "body": body})

    text = call("text/plain", "hello")
    assert text.headers["Content-Type"] == "text/plain; charset=UTF-8" and text.data == b"hello"
    encoded = call("application/json", base64.b64encode(b'{"a": 1}').decode())
    assert encoded.headers["Content-Type"] == "application/json" and encoded.get_json() == {"a": 1}
    plain = call("application/json", '{"a": 2}')
    assert plain.get_json() == {"a": 2}
