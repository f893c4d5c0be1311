"""The HTTP face of the emulator: OpenWhisk's web action route here, and (in `emulator.rest_api`) the
REST API of namespaces, packages, actions and activations, under `/api/v1/namespaces` behind basic auth.

Thin by design: every route turns the Flask request into plain values and calls the Controller;
all OpenWhisk rules live in the core. Other blueprints (the GraphQL facade) register on the app
returned by `create_app`, and reach the controller with `current_controller()`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from emulator import browser_guard
from emulator.activations import new_activation_id
from emulator.controller import Controller
from emulator.hosts import AllowedHosts
from emulator.project import DEFAULT_HOST
from emulator.rest_api import GUEST_KEY, authenticate, rest
from emulator.web_actions import MAX_BODY_BYTES, RESOURCE_DOES_NOT_EXIST, WebResponse, entity_too_big, error_response

HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

openwhisk = Blueprint("openwhisk", __name__)


def create_app(controller: Controller, auth: str = GUEST_KEY, hosts: AllowedHosts | None = None) -> Flask:
    """A Flask app serving `controller`; register more blueprints on it as needed.

    `auth` is the `uuid:key` the namespaces API (actions, packages, activations) requires as basic auth;
    `hosts` the Host names every route but the web actions answers to (default: an emulator on loopback's).
    """
    app = Flask("emulator")
    app.json.sort_keys = False  # JSON as built: the console shows GraphQL answers in Commerce's key order
    # One byte past the limit: a chunked body (no Content-Length) is read only up to this, so the byte
    # past the limit is what tells a body over it from one at it. The routes refuse that byte.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.config["OW_AUTH"] = auth
    app.extensions["openwhisk"] = controller
    app.wsgi_app = _ReadableBody(app.wsgi_app)  # type: ignore[method-assign]
    browser_guard.install(app, hosts or AllowedHosts(DEFAULT_HOST))
    app.before_request(authenticate)
    app.register_blueprint(openwhisk)
    app.register_blueprint(rest)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    return app


class _ReadableBody:
    """WSGI middleware: a request body the server cannot read is the client's fault (400, in the
    route's error shape), never the emulator's. A malformed chunked body (`ZZ\\r\\nabc`) makes
    werkzeug's server raise OSError, and gunicorn its own ParseException, from `wsgi.input`'s reads."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"] = _Body(environ["wsgi.input"])
        return self.wsgi_app(environ, start_response)


class _Body:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, *size: int) -> bytes:
        return self._reading(self._stream.read, *size)

    def readline(self, *size: int) -> bytes:
        return self._reading(self._stream.readline, *size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @staticmethod
    def _reading(method: Callable[..., bytes], *args: int) -> bytes:
        try:
            return method(*args)
        except HTTPException:
            raise
        except Exception as error:
            raise BadRequest(f"The request content was malformed:\n{error}") from None


def current_controller() -> Controller:
    return current_app.extensions["openwhisk"]


def _to_flask(resp: WebResponse) -> Response:
    out = Response(resp.body, status=resp.status)
    out.headers.clear()
    for name, value in resp.headers:
        out.headers.add(name, value)
    return out


def _error(status: int, message: str) -> Response:
    return _to_flask(error_response(status, message, new_activation_id()))


def _too_large(_: Exception) -> Response:
    limit = (request.max_content_length or MAX_BODY_BYTES + 1) - 1
    return _to_flask(error_response(413, entity_too_big(request.content_length or limit + 1, limit),
                                    new_activation_id()))


def _http_error(err: HTTPException) -> Response | HTTPException:
    """Unknown routes and methods under /api/ and /runtime/ answer in OpenWhisk's {"error", "code"} shape."""
    if not request.path.startswith(("/api/", "/runtime/")):
        return err
    message = RESOURCE_DOES_NOT_EXIST if err.code == 404 else (err.description or err.name)
    return _error(err.code or 500, message)


@openwhisk.route("/api/v1/web/<path:path>", methods=HTTP_METHODS)
@browser_guard.public()
def web_action(path: str) -> Response:
    body = request.get_data(cache=False)  # the gateway answers 413 past MAX_BODY_BYTES
    headers = {k: v for k, v in request.headers.items()}
    query = request.query_string.decode("latin-1")
    return _to_flask(current_controller().web(path, request.method, headers, query, body, scheme=request.scheme))
