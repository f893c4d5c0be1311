"""Commerce over real HTTP: an answer that is not a GraphQL answer is `commerce-unavailable`, never an
internal error, whatever Commerce (or what stands at COMMERCE_GRAPHQL_URL) sends."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from customer_auth.integrations import Integration
from social_login.commerce import Commerce
from social_login.refusals import CommerceUnavailable

ANSWERS = {
    "/html": (502, "<html>Bad gateway</html>"),
    "/deep": (200, '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}"),  # past any JSON reader's stack
    "/list": (200, "[]"),
    "/no-data": (200, '{"data": null}'),
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = ANSWERS[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


@pytest.mark.parametrize("path, why", [("/html", "HTTP 502 without a GraphQL answer"),
                                       ("/deep", "HTTP 200 without a GraphQL answer"),
                                       ("/list", "HTTP 200 without a GraphQL answer"),
                                       ("/no-data", "HTTP 200 without data")])
def test_what_is_no_graphql_answer(server, path, why):
    commerce = Commerce(server + path, Integration(name="commerce"))
    with pytest.raises(CommerceUnavailable) as caught:
        commerce.email_available("ada@example.com", "default")
    assert why in caught.value.reason
