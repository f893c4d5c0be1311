"""The emulator's `/graphql` route: Flask glue around the framework-free GraphQL facade.

    register(app, lambda: facade)

`facade_factory` is called on every request, so a factory that rebuilds the facade when the settings
are reloaded takes effect at once; it should return the same instance otherwise (the instance holds
the document cache).
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, request

from customer_auth.graphql import GraphQLFacade

FacadeFactory = Callable[[], GraphQLFacade]


def register(app: Flask, facade_factory: FacadeFactory, url: str = "/graphql") -> None:
    """Adds `url` (GET, POST) to `app`, answered by `facade_factory().handle(...)`."""
    routes = Blueprint("graphql", __name__)

    @routes.route(url, methods=["GET", "POST"])
    def graphql() -> Response:
        headers = {k: v for k, v in request.headers.items()}
        # What a gateway in front of OpenWhisk reports: the scheme the client used (signed URLs need it).
        if not any(k.lower() == "x-forwarded-proto" for k in headers):
            headers["X-Forwarded-Proto"] = request.scheme
        status, out_headers, body = facade_factory().handle(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            headers,
            request.get_data(cache=False),
        )
        return Response(body, status=status, headers=out_headers)

    # Other methods on the endpoint get the facade's own 405 (with a GraphQL error body).
    @routes.route(url, methods=["PUT", "PATCH", "DELETE"])
    def graphql_other() -> Response:
        status, out_headers, body = facade_factory().handle(request.method, request.path, "", {}, b"")
        return Response(body, status=status, headers=out_headers)

    app.register_blueprint(routes)
