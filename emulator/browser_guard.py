"""What the emulator refuses a browser: it runs beside the developer's, and no web page, whatever its
origin or Host header, may deploy, invoke or read through it (Vite's and Jupyter's rules).

One `before_request` hook, for every route but the public web actions (a route says it is one with
`@public`), in this order:

1. DNS rebinding: a Host the emulator does not answer to (hosts.AllowedHosts) is refused with 403.
2. Cross-site requests (CSRF): a request that may change something (any method but GET, HEAD and
   OPTIONS) whose `Origin` is not this emulator's own is refused with 403. A browser sends `Origin`
   with every such request, a page's form or `fetch` alike; `wsk`, the npm client and `curl` send none.
   The origin compared is scheme-less host and port, as Host names them: ports tell two local dev
   servers apart, which browsers count as one site.
3. A body that is not `application/json` is refused with 415, in OpenWhisk's words (pekko-http's
   rejection of an entity its JSON unmarshaller does not take): a page's form can post `text/plain`
   without asking first, never JSON.

A refusal is a werkzeug HTTPException, so each route answers it in its own error shape: OpenWhisk's
`{"error", "code"}` under /api/, the console API's `{"error", "code"}` under /console/, GraphQL's;
a route without a shape of its own gets the console's (JSON, `code` the HTTP status).
The GraphQL endpoint is a public web action when deployed, and is one here too; the GraphQL editor
a browser gets at the same URL is a console page.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import Forbidden, HTTPException, UnsupportedMediaType

from emulator.hosts import AllowedHosts

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = "application/json"
View = TypeVar("View", bound=Callable[..., Any])


class _Refusal(HTTPException):
    """Answered as `{"error": description, "code": status}` where no error handler words it."""

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        return Response(json.dumps({"error": self.description, "code": self.code}), self.code,
                        mimetype="application/json")


class HostNotAllowed(_Refusal, Forbidden):
    pass


class CrossSite(_Refusal, Forbidden):
    pass


class NotJSON(_Refusal, UnsupportedMediaType):
    pass


def public(when: Callable[[], bool] = lambda: True) -> Callable[[View], View]:
    """Marks a view as a public web action (answered whatever the Host or Origin), or as one for the
    requests `when()` says are."""

    def mark(view: View) -> View:
        view.public_web_action = when  # type: ignore[attr-defined]
        return view

    return mark


def install(app: Flask, hosts: AllowedHosts) -> None:
    """Checks every request to `app`; install it before any other `before_request` hook, so that a
    refused page gets no basic-auth challenge either."""
    app.extensions["allowed_hosts"] = hosts
    app.before_request(_guard)


def _guard() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    when = getattr(view, "public_web_action", None)
    if when is not None and when():
        return
    hosts: AllowedHosts = current_app.extensions["allowed_hosts"]
    why = hosts.refusal(request.headers.get("Host"))
    if why:
        raise HostNotAllowed(why)
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    own = {(request.headers.get("Host") or "").lower(), _netloc(hosts.public_base_url())} - {""}
    if origin is not None and _netloc(origin) not in own:
        raise CrossSite(f"The request comes from a page of {origin}: a request that may change something is "
                        "taken from the emulator's own pages, or from a client that is not a browser (wsk, the "
                        "openwhisk npm client, curl), never from another site's page.")
    if _has_body() and request.mimetype != JSON:
        given = request.headers.get("Content-Type") or "application/octet-stream"
        raise NotJSON(f"The request's Content-Type [{given}] is not supported. Expected:\n{JSON}")


def _netloc(origin: str) -> str:
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:
        return ""


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
