"""Claim 9, no web page gets through the emulator: DNS rebinding (a Host the emulator does not answer
to) and cross-site requests (another site's Origin, a body that is not JSON) are refused on every
route but the public web actions, against a real emulator process; and in a real browser, a page of
another origin and a page rebound to the emulator deploy, invoke and read nothing."""
from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from emulator.manifest import load_manifest
from emulator.rest_api import GUEST_KEY
from tests.conftest import ROOT, RunningEmulator, emulator_process

KEY = tuple(GUEST_KEY.split(":", 1))
NS = "/api/v1/namespaces/guest"
SEQUENCE = "/api/v1/web/guest/customer-auth/exchange-external-customer-token"
CODE = "def main(params):\n    return {'ran': True}\n"
DEPLOY = {"exec": {"kind": "python:3.11", "code": CODE}}
CUSTOMER = {"email": "victim@example.com", "firstname": "V", "lastname": "W"}
# Every kind of route that is not a public web action: the REST API (read, deploy, invoke, delete),
# the console's API (read, sign), the console page and its files, the GraphQL editor, any other path.
GUARDED = [
    ("GET", f"{NS}/actions", {"auth": KEY}, "openwhisk"),
    ("PUT", f"{NS}/actions/evil/run?overwrite=true", {"auth": KEY, "json": DEPLOY}, "openwhisk"),
    ("POST", f"{NS}/actions/customer-auth/issue-token?blocking=true", {"auth": KEY, "json": {}}, "openwhisk"),
    ("DELETE", f"{NS}/actions/customer-auth/issue-token", {"auth": KEY}, "openwhisk"),
    ("GET", "/console/api/customers", {}, "console"),
    ("GET", "/console/api/integrations", {}, "console"),
    ("POST", "/console/api/exchange", {"json": {"integration": 1, "customer": CUSTOMER}}, "console"),
    ("GET", "/", {}, "console"),
    ("GET", "/console/static/js/main.js", {}, "console"),
    ("GET", "/graphql", {"headers": {"Accept": "text/html"}}, "graphql"),
    ("GET", "/favicon.ico", {}, "console"),  # any other path: the console's shape
]


def nothing_happened(emulator: RunningEmulator) -> None:
    """No deployment, no activation, no customer, and the manifest's actions all still there."""
    api = requests.get(f"{emulator.base}{NS}/actions?limit=200", auth=KEY, timeout=10).json()
    manifest = load_manifest(ROOT / "app.config.yaml", {})
    assert sorted(a["name"] for a in api) == sorted(
        name for package in manifest.packages.values() for name in [*package.actions, *package.sequences])
    assert requests.get(f"{emulator.base}{NS}/activations", auth=KEY, timeout=10).json() == []
    customers = requests.get(f"{emulator.base}/console/api/customers", timeout=10).json()
    assert customers["total"] == 0


def refusal_text(answer: requests.Response, shape: str) -> str:
    body = answer.json()
    if shape == "graphql":
        assert body["errors"][0]["extensions"]["category"] == "graphql-authorization"
        return body["errors"][0]["message"]
    code = body["code"]
    assert code == answer.status_code if shape == "console" else len(code) == 32  # a transaction id
    return body["error"]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with emulator_process(tmp_path) as running:
        yield running


def test_a_foreign_host_reaches_only_the_public_web_actions(emulator):
    """DNS rebinding: with the page's domain in Host, every route but the web actions is refused with
    403 in its own error shape, naming the setting that would allow the host; loopback names pass."""
    host = {"Host": f"attacker.example:{emulator.port}"}
    for method, path, kwargs, shape in GUARDED:
        headers = {**kwargs.get("headers", {}), **host}
        answer = requests.request(method, emulator.base + path, **{**kwargs, "headers": headers}, timeout=10)
        assert answer.status_code == 403, (method, path, answer.text)
        assert ("The host attacker.example is not allowed" in refusal_text(answer, shape)
                and "--allowed-hosts attacker.example (or EMULATOR_ALLOWED_HOSTS=attacker.example)"
                in refusal_text(answer, shape)), (method, path)
        assert "WWW-Authenticate" not in answer.headers  # no basic-auth prompt for a rebound page
    nothing_happened(emulator)
    # The public web actions answer whatever the Host: the web sequence checks its caller itself, and
    # /graphql is the deployed graphql web action.
    unsigned = requests.post(emulator.base + SEQUENCE, json={"customer": CUSTOMER}, headers=host, timeout=30)
    assert unsigned.status_code == 401 and "permission" in unsigned.json()["errors"][0]["message"]
    graphql = requests.get(emulator.base + "/graphql", params={"query": "{ __typename }"}, headers=host, timeout=10)
    assert graphql.json() == {"data": {"__typename": "Query"}}
    for name in ("localhost", "127.0.0.1", "[::1]", "app.localhost"):
        answer = requests.get(emulator.base + "/console/api/manifest", headers={"Host": f"{name}:{emulator.port}"},
                              timeout=10)
        assert answer.status_code == 200, name


def test_allowed_hosts_and_public_base_url_admit_their_names(tmp_path):
    with emulator_process(tmp_path, EMULATOR_ALLOWED_HOSTS="myshop.test, .dev.example",
                          PUBLIC_BASE_URL="https://shop.example.com/") as emulator:
        def status(name: str) -> int:
            return requests.get(emulator.base + "/console/api/manifest", headers={"Host": f"{name}:{emulator.port}"},
                                timeout=10).status_code

        assert [status(n) for n in ("myshop.test", "MyShop.Test", "dev.example", "api.dev.example",
                                    "shop.example.com")] == [200] * 5
        assert [status(n) for n in ("evil.example", "myshop.test.evil.example", "xdev.example")] == [403] * 3


def test_beyond_loopback_addresses_pass_and_names_need_allowing(tmp_path):
    """Bound to every interface (the user chose to expose it, with a key of their own), clients on the
    network name the machine by address; a rebinding page always names a domain."""
    key = ("me", "a-key-of-mine")
    with emulator_process(tmp_path, "--host", "0.0.0.0", "--auth", ":".join(key)) as emulator:
        by_address = requests.get(f"{emulator.base}{NS}/actions", auth=key, timeout=10,
                                  headers={"Host": f"192.0.2.10:{emulator.port}"})
        assert by_address.status_code == 200
        by_name = requests.get(f"{emulator.base}{NS}/actions", auth=key, timeout=10,
                               headers={"Host": f"devbox.example:{emulator.port}"})
        assert by_name.status_code == 403
        assert "loopback names and IP addresses only" in by_name.json()["error"]


def test_a_body_that_is_not_json_is_refused_with_415_and_runs_nothing(emulator):
    """What a form on any page can post without asking first: text/plain (or a form's own types)."""
    body = json.dumps({"customer": 1, **DEPLOY})
    for method, path in [("POST", f"{NS}/actions/customer-auth/issue-token?blocking=true"),
                         ("PUT", f"{NS}/actions/evil/run"), ("PUT", f"{NS}/packages/evil")]:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            answer = requests.request(method, emulator.base + path, data=body, auth=KEY, timeout=10,
                                      headers={"Content-Type": content_type})
            assert answer.status_code == 415, (method, path, content_type)
            assert answer.json()["error"] == (f"The request's Content-Type [{content_type}] is not supported. "
                                              "Expected:\napplication/json")
    console = requests.post(emulator.base + "/console/api/exchange", timeout=10, headers={"Content-Type": "text/plain"},
                            data=json.dumps({"integration": 1, "customer": CUSTOMER}))
    assert console.status_code == 415 and console.json()["code"] == 415
    nothing_happened(emulator)


def test_another_sites_origin_changes_nothing_and_the_console_still_works(emulator):
    evil = {"Origin": "http://evil.example"}
    for method, path, kwargs, shape in GUARDED:
        if method in ("GET", "HEAD"):
            continue
        answer = requests.request(method, emulator.base + path, **{**kwargs, "headers": evil}, timeout=10)
        assert answer.status_code == 403, (method, path)
        assert "comes from a page of http://evil.example" in refusal_text(answer, shape)
        assert "WWW-Authenticate" not in answer.headers
    for origin in ("null", f"http://127.0.0.1:{emulator.port + 1}", f"http://localhost:{emulator.port}"):
        answer = requests.post(f"{emulator.base}{NS}/actions/customer-auth/issue-token", auth=KEY, timeout=10,
                               headers={"Origin": origin})  # no body: only the Origin can tell
        assert answer.status_code == 403, origin
    nothing_happened(emulator)
    # The console's own page, same origin, exchanges as before.
    own = requests.post(emulator.base + "/console/api/exchange", timeout=60, headers={"Origin": emulator.base},
                        json={"integration": 1, "customer": CUSTOMER})
    assert own.status_code == 200 and own.json()["response"]["body"]["data"]["exchangeExternalCustomerToken"]["token"]


def test_the_host_rule():
    from emulator.hosts import AllowedHosts, parse_allowed

    loopback = AllowedHosts("127.0.0.1", parse_allowed("Shop.Test:8080 .corp.example"), lambda: "http://pub.example")
    assert [loopback.admits(n) for n in ("localhost", "127.9.9.9", "::1", "a.localhost", "shop.test",
                                         "x.corp.example", "corp.example", "pub.example")] == [True] * 8
    assert [loopback.admits(n) for n in ("192.168.1.2", "evil.example", "corp.example.evil", "")] == [False] * 4
    assert loopback.refusal(None) is None  # HTTP/1.0 without Host: not a browser
    exposed = AllowedHosts("0.0.0.0")
    assert exposed.admits("192.168.1.2") and exposed.admits("2001:db8::1") and not exposed.admits("evil.example")
    with pytest.raises(ValueError, match="not 'http://shop.test'"):
        parse_allowed("http://shop.test")


# ------------------------------------------------------------------------------------- a real browser

class _Pages(BaseHTTPRequestHandler):
    """Another origin's web server: serves `page` at any path."""

    page = ""

    def do_GET(self) -> None:
        data = self.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def another_origin() -> Iterator[tuple[str, type[_Pages]]]:
    """A web server on another port of this machine: a page of another origin (and site-wise, the same
    site: browsers count every port of a host as one)."""
    pages = type("Pages", (_Pages,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pages
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def rebinding_browser() -> Iterator[object]:
    """Headless chromium whose resolver sends rebound.test to 127.0.0.1, as a rebinding DNS server would
    once the page has loaded; with its Private and Local Network Access checks off: Firefox and Safari
    have none, and the emulator must hold without them."""
    from tests.console.conftest import CHROMIUM_ARGS, launched_browser

    network_access = ("BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
                      "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks")
    with launched_browser([*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebound.test 127.0.0.1",
                           f"--disable-features={network_access}"]) as browser:
        yield browser


ATTACKS = """
<form id="invoke" method="post" enctype="text/plain" target="sink"
      action="{base}{ns}/actions/customer-auth/issue-token?blocking=true">
  <input name='{{"customer": {{"id": 1}}, "x": "' value='"}}'>
</form>
<form id="exchange" method="post" enctype="text/plain" target="sink2" action="{base}/console/api/exchange">
  <input name='{{"integration": 1, "customer": {customer}, "x": "' value='"}}'>
</form>
<iframe name="sink"></iframe><iframe name="sink2"></iframe>
<script>
async function attack() {{
  const results = {{}};
  document.getElementById("invoke").submit();
  document.getElementById("exchange").submit();
  const tries = {{
    noCorsInvoke: () => fetch("{base}{ns}/actions/customer-auth/issue-token?blocking=true",
                              {{method: "POST", mode: "no-cors", credentials: "include"}}),
    noCorsSign: () => fetch("{base}/console/api/sign", {{method: "POST", mode: "no-cors", credentials: "include",
                              headers: {{"Content-Type": "text/plain"}}, body: '{{"integration": 1, "body": "{{}}"}}'}}),
    readCustomers: () => fetch("{base}/console/api/customers").then((r) => r.text()),
    deploy: () => fetch("{base}{ns}/actions/evil/run", {{method: "PUT", credentials: "include",
                         headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({deploy})}}),
  }};
  for (const [name, run] of Object.entries(tries)) {{
    try {{ const r = await run(); results[name] = typeof r === "string" ? r : r.type + " " + r.status; }}
    catch (error) {{ results[name] = "blocked: " + error.message; }}
  }}
  await new Promise((done) => setTimeout(done, 1500));  // the forms' answers arrive in their frames
  document.body.dataset.results = JSON.stringify(results);
}}
attack();
</script>
"""


def test_a_page_of_another_origin_deploys_invokes_and_reads_nothing(rebinding_browser, emulator, another_origin):
    """The browser holds the guest key as if a basic-auth prompt had been answered before; a page on
    another port posts text/plain forms and no-cors fetches to the REST API and the console API, and
    tries to read customers and to deploy: nothing is deployed, invoked or read."""
    origin, pages = another_origin
    pages.page = ATTACKS.format(base=emulator.base, ns=NS, customer=json.dumps(CUSTOMER), deploy=json.dumps(DEPLOY))
    context = rebinding_browser.new_context(http_credentials={"username": KEY[0], "password": KEY[1]})
    try:
        page = context.new_page()
        page.goto(origin + "/attack.html")
        page.wait_for_function("document.body.dataset.results", timeout=20_000)
        results = json.loads(page.evaluate("document.body.dataset.results"))
    finally:
        context.close()
    assert results["noCorsInvoke"] == "opaque 0" and results["noCorsSign"] == "opaque 0"  # sent, unreadable
    assert results["readCustomers"].startswith("blocked") and results["deploy"].startswith("blocked")
    nothing_happened(emulator)


REBOUND = """
<script>
async function attack() {{
  const key = {{"Authorization": "Basic {basic}", "Content-Type": "application/json"}};
  const tries = {{
    deploy: ["PUT", "{ns}/actions/evil/run?overwrite=true", {deploy}],
    invoke: ["POST", "{ns}/actions/customer-auth/issue-token?blocking=true", {{"customer": {{"id": 1}}}}],
    list: ["GET", "{ns}/actions"],
    customers: ["GET", "/console/api/customers"],
    sign: ["POST", "/console/api/sign", {{"integration": 1, "body": "{{}}"}}],
  }};
  const results = {{}};
  for (const [name, [method, path, body]] of Object.entries(tries)) {{
    try {{
      const r = await fetch(path, {{method, headers: key, body: body && JSON.stringify(body)}});
      results[name] = [r.status, await r.text()];
    }} catch (error) {{ results[name] = [0, error.message]; }}
  }}
  document.body.dataset.results = JSON.stringify(results);
}}
attack();
</script>
"""


def test_a_page_rebound_to_the_emulator_gets_refusals_not_answers(rebinding_browser, emulator):
    """The page of rebound.test, whose name now resolves to 127.0.0.1, calls the emulator as its own
    origin with OpenWhisk's well-known guest key: every call is refused, and says what would allow it."""
    page_url = f"http://rebound.test:{emulator.port}/attack.html"
    context = rebinding_browser.new_context()
    try:
        page = context.new_page()
        # The first DNS answer: the attacker's server, which serves this page. Every other request
        # of the page goes where the name now resolves: the emulator.
        page.route(page_url, lambda route: route.fulfill(content_type="text/html", body=REBOUND.format(
            basic=base64.b64encode(GUEST_KEY.encode()).decode(), ns=NS, deploy=json.dumps(DEPLOY))))
        page.goto(page_url)
        page.wait_for_function("document.body.dataset.results", timeout=20_000)
        results = json.loads(page.evaluate("document.body.dataset.results"))
    finally:
        context.close()
    for name, (status, text) in results.items():
        assert status == 403, (name, text)
        assert "The host rebound.test is not allowed" in json.loads(text)["error"], name
        assert "--allowed-hosts rebound.test" in text
    nothing_happened(emulator)
