"""The emulator's `/graphql` route: Flask glue around the framework-free GraphQL facade.

    register(app, lambda: facade)

`facade_factory` is called on every request, so a factory that rebuilds the facade when the settings
are reloaded takes effect at once; it should return the same instance otherwise (the instance holds
the document cache).

Two emulator niceties beside GraphQL over HTTP:
- the answer names the activations the request ran in `x-openwhisk-activation-id` (comma-separated
  when an operation ran several), as OpenWhisk names a web action's; the bundle's invoke reports
  them with `note_activation`. The developer console finds an exchange's records by it.
- `GET /graphql` from a browser (it accepts text/html, and sends no `query`) gets `editor()`, an
  interactive GraphQL page, when one is given. Every other GET is GraphQL over HTTP as before.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, has_request_context, request
from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import get_input_stream

from customer_auth.errors import AUTHORIZATION, INPUT
from customer_auth.graphql import GraphQLFacade, messages
from customer_auth.graphql.facade import MAX_BODY_BYTES
from emulator import browser_guard
from emulator.activations import ACTIVATION_HEADER
from emulator.rest_api import prefers_html

FacadeFactory = Callable[[], GraphQLFacade]


def note_activation(activation_id: str) -> None:
    """Records that the current request ran `activation_id` (no-op outside a request)."""
    if has_request_context():
        g.setdefault("openwhisk_activations", []).append(activation_id)


def wants_editor() -> bool:
    """A browser navigating to the endpoint, not a GraphQL client (those send `query` or ask for JSON)."""
    return request.method == "GET" and "query" not in request.args and prefers_html()


def register(app: Flask, facade_factory: FacadeFactory, url: str = "/graphql",
             editor: Callable[[], Response] | None = None, name: str = "graphql") -> None:
    """Adds `url` (GET, POST) to `app`, answered by `facade_factory().handle(...)`; a browser's
    plain GET gets `editor()` when given. `name`: the blueprint's, unique per app."""
    routes = Blueprint(name, __name__)

    @routes.route(url, methods=["GET", "POST"])
    @browser_guard.public(when=lambda: editor is None or not wants_editor())  # the editor is a console page
    def graphql() -> Response:
        if editor is not None and wants_editor():
            return editor()
        headers = {k: v for k, v in request.headers.items()}
        # What a gateway in front of OpenWhisk reports: the scheme the client used (signed URLs need it).
        if not any(k.lower() == "x-forwarded-proto" for k in headers):
            headers["X-Forwarded-Proto"] = request.scheme
        status, out_headers, body = facade_factory().handle(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            headers,
            _body(),
        )
        response = Response(body, status=status, headers=out_headers)
        ran = g.get("openwhisk_activations")
        if ran:
            response.headers[ACTIVATION_HEADER] = ", ".join(ran)
        return response

    # Other methods on the endpoint get the facade's own 405 (with a GraphQL error body).
    @routes.route(url, methods=["PUT", "PATCH", "DELETE"])
    @browser_guard.public()
    def graphql_other() -> Response:
        status, out_headers, body = facade_factory().handle(request.method, request.path, "", {}, b"")
        return Response(body, status=status, headers=out_headers)

    @routes.errorhandler(HTTPException)
    def refused(err: HTTPException) -> Response:
        """A body the server could not read, or the editor for a Host not allowed: GraphQL's shape."""
        category = AUTHORIZATION if err.code in (401, 403) else INPUT
        body = json.dumps({"errors": [messages.error(err.description or err.name, category)]})
        return Response(body, status=err.code or 400, mimetype="application/json")

    app.register_blueprint(routes)


def _body() -> bytes:
    """The body, cut one byte past the facade's limit: a body over it, with a Content-Length or
    chunked, gets the facade's 413 in GraphQL's shape (Flask's own limit would answer in OpenWhisk's,
    and cut a chunked body at the limit without a word)."""
    return get_input_stream(request.environ, max_content_length=None).read(MAX_BODY_BYTES + 1)
