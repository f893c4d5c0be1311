"""The console's Flask glue: the page, its static files and its JSON API under `/console/api/`.

Access: every console route answers a local browser (see loopback.py). From elsewhere the read
routes want the REST API's key as basic auth, as `wsk` sends it; the exchange, which signs with an
integration's secrets, is refused with 403 whatever the credentials. Nothing secret leaves: the
integrations are their `summary()` (consumer key masked), customers carry no password hash,
activation records are the controller's redacted copies, manifest inputs are listed by name only.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from customer_auth import client_json, settings as settings_of
from customer_auth.customers import Customer
from customer_auth.errors import CommerceError
from customer_auth.integrations import Integration
from customer_auth.oauth1 import SignedRequest, authorization_header
from customer_auth.store import Store, StoreError
from emulator.activations import STATUS_NAMES, Activation
from emulator.apikey import key_matches
from emulator.app import current_controller
from emulator.console.exchange import exchange, signed_url, timeline
from emulator.console.loopback import refusal
from emulator.manifest import Action, Sequence
from emulator.rest_api import AUTH_CHALLENGE, HOME_PAGE
from social_login import settings as social_settings
from social_login.cache import get_json
from social_login.providers import Provider, well_known_configuration
from social_login.refusals import ProviderUnavailable

STATIC = Path(__file__).parent / "static"
MAX_PAGE = 100
MAX_ACTIVATIONS = 200
MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints
SIGNING_PATHS = ("/console/api/exchange", "/console/api/sign")
CUSTOMER_FIELDS = ("id", "email", "firstname", "lastname", "website_id", "store_id", "group_id",
                   "is_subscribed", "created_at", "updated_at")

console = Blueprint("console", __name__, static_folder=str(STATIC), static_url_path="/console/static")


@dataclass
class ConsoleContext:
    store: Store | None
    settings: Callable[[], Mapping[str, Any] | None]


def register(app: Flask, store: Store | None,
             settings: Callable[[], Mapping[str, Any] | None] = lambda: None) -> None:
    """Serve the console on `app`; `store` is the bundle's (None without it), `settings` its inputs."""
    app.extensions["console"] = ConsoleContext(store, settings)
    app.extensions[HOME_PAGE] = index  # `/` answers a browser with the console, other clients OpenWhisk's info
    app.register_blueprint(console)


def graphql_editor() -> Response:
    """The interactive GraphQL page `GET /graphql` gives a browser."""
    return _page("graphql.html")


def _context() -> ConsoleContext:
    return current_app.extensions["console"]


def _page(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


class ConsoleError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


@console.errorhandler(ConsoleError)
def _console_error(err: ConsoleError) -> Response:
    response = jsonify({"error": err.message, "code": err.status})
    response.status_code = err.status
    response.headers.update(err.headers)
    return response


@console.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    """Refusals before a route ran (a Host not allowed, another site's request, a body not JSON or not
    readable) in the console API's shape."""
    return _console_error(ConsoleError(err.code or 400, err.description or err.name))


@console.errorhandler(StoreError)
def _store_error(err: StoreError) -> Response:
    """A store that cannot be read (a damaged file, a database down) says which and why."""
    return _console_error(ConsoleError(503, f"The store cannot be used: {err}"))


@console.before_request
def _local_or_key() -> None:
    """Reads: a local browser, or the REST API key. (The exchange checks more, see below.)"""
    if not request.path.startswith("/console/api/") or request.path in SIGNING_PATHS:
        return  # the signing routes refuse non-local requests with 403 themselves
    why = refusal(request.environ)
    if why is None or key_matches(request.headers.get("Authorization"), current_app.config["OW_AUTH"]):
        return
    raise ConsoleError(401, "Without the OpenWhisk API key (basic auth), the console's API answers only a "
                            f"browser on this machine with the emulator listening on loopback: {why}.",
                       {"WWW-Authenticate": AUTH_CHALLENGE})


# ------------------------------------------------------------------------------ the page

def index() -> Response:
    """The console, which `/` gives a browser (emulator.rest_api.platform_info)."""
    return _page("index.html")


# ------------------------------------------------------------------------------ manifest

@console.get("/console/api/manifest")
def manifest() -> Response:
    controller = current_controller()
    packages = []
    for package in controller.manifest.packages.values():
        packages.append({
            "name": package.name,
            "inputs": sorted(package.inputs),
            "actions": [_action(a) for a in package.actions.values()],
            "sequences": [_sequence(s) for s in package.sequences.values()],
        })
    return jsonify({"namespace": controller.namespace, "packages": packages,
                    "graphql": _context().store is not None})


def _action(action: Action) -> dict[str, Any]:
    return {"name": action.name, "fqn": action.fqn, "runtime": action.runtime, "web": action.web,
            "raw": action.raw, "limits": {"timeout": action.timeout_ms, **action.limits},
            "inputs": sorted(action.inputs), "annotations": action.annotations}


def _sequence(sequence: Sequence) -> dict[str, Any]:
    return {"name": sequence.name, "fqn": sequence.fqn, "components": list(sequence.components),
            "web": sequence.web, "raw": sequence.raw}


# ------------------------------------------------------------------------------ store

def _store() -> Store:
    store = _context().store
    if store is None:
        raise ConsoleError(404, "This manifest has no customer-auth package, so there is no store.")
    return store


@console.get("/console/api/integrations")
def integrations() -> Response:
    """Each one's summary, and whether verify-oauth would let it exchange now (usable, and granted the
    resource OAUTH_REQUIRED_RESOURCE names), so the page offers the ones that can."""
    required = settings_of.OAUTH_REQUIRED_RESOURCE.read(_context().settings() or {})
    return jsonify([{**i.summary(), "may_exchange": i.is_usable and i.allows(required)}
                    for i in _store().integrations()])


@console.get("/console/api/customers")
def customers() -> Response:
    """`q`: a case-insensitive substring of the email; `page` (from 1) of `per_page` (at most 100), by id."""
    wanted = request.args.get("q", "").strip().lower()
    page = max(_int_arg("page", 1), 1)
    per_page = min(max(_int_arg("per_page", 20), 1), MAX_PAGE)
    matches = [c for c in _store().customers() if wanted in c.email.lower()]
    pages = max(1, -(-len(matches) // per_page))
    page = min(page, pages)  # past the last page: the last one
    items = matches[(page - 1) * per_page: page * per_page]
    return jsonify({"items": [_customer(c) for c in items], "total": len(matches), "page": page,
                    "per_page": per_page, "pages": pages, "q": wanted})


def _customer(customer: Customer) -> dict[str, Any]:
    record = customer.to_record()
    return {name: record.get(name) for name in CUSTOMER_FIELDS}


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConsoleError(400, f"{name} must be an integer, got {raw!r}") from None


# ------------------------------------------------------------------------------ activations

STATUS_KEYS = {name.replace(" ", "-"): code for code, name in STATUS_NAMES.items()}  # success, application-error, ...


@console.get("/console/api/activations")
def activations() -> Response:
    """Newest first, as `wsk activation list`: `name` (action or package/action), `status`
    (success, application-error, action-developer-error, whisk-internal-error; or 0-3), `limit`, `skip`."""
    store = current_controller().activations
    limit = min(max(_int_arg("limit", 30), 1), MAX_ACTIVATIONS)
    skip = max(_int_arg("skip", 0), 0)
    status, code = request.args.get("status", ""), None
    if status:
        code = int(status) if status.isdecimal() and len(status) < 3 else STATUS_KEYS.get(status)
        if code not in STATUS_NAMES:
            raise ConsoleError(400, f"status must be one of {', '.join(STATUS_KEYS)} (or 0-3), got {status!r}")
    records, total = store.page(limit, skip, name=request.args.get("name") or None, status=code)
    return jsonify({"items": [_record(a) for a in records], "total": total})


@console.get("/console/api/activations/<activation_id>")
def activation(activation_id: str) -> Response:
    record = current_controller().activations.get(activation_id)
    if record is None:
        raise ConsoleError(404, f"No activation {activation_id} (the emulator keeps the newest records only).")
    return jsonify(_record(record))


@console.get("/console/api/activations/<activation_id>/timeline")
def activation_timeline(activation_id: str) -> Response:
    """The activation and, for a sequence, its components: one time axis."""
    records = timeline(current_controller().activations, activation_id)
    if not records:
        raise ConsoleError(404, f"No activation {activation_id}.")
    return jsonify({"items": [_record(a) for a in records]})


def _record(activation: Activation) -> dict[str, Any]:
    """The REST API's record (already redacted by the controller), plus what the page sorts and labels by."""
    record = activation.to_dict()
    record["statusCode"] = activation.response.status_code  # as in OpenWhisk's list summaries
    record["path"] = activation.annotation("path") or activation.name
    record["kind"] = activation.annotation("kind")
    return record


# ------------------------------------------------------------------------------ sign in with a provider

SOCIAL_LOGIN = "social-login"


@console.get("/console/api/providers")
def providers() -> Response:
    """The providers ID_PROVIDERS names (issuers and client ids: nothing secret), for the page's sign-in."""
    return jsonify({"providers": [{"name": p.name, "issuer": p.issuer, "client_ids": list(p.client_ids)}
                                  for p in _providers().values()]})


@console.get("/console/api/providers/<name>")
def provider_endpoints(name: str) -> Response:
    """Where the page sends the browser to sign in, and where a code is exchanged: from the provider's
    discovery document, fetched here (the page may not be allowed to read it across origins)."""
    provider = _providers().get(name)
    if provider is None:
        raise ConsoleError(404, f"No provider {name!r} in ID_PROVIDERS.")
    try:
        document = get_json(_discovery_url(provider)).document
    except ProviderUnavailable as error:
        raise ConsoleError(502, f"The provider's discovery document cannot be read: {error.reason}") from None
    return jsonify({"name": provider.name, **{key: document.get(key) for key in (
        "issuer", "authorization_endpoint", "token_endpoint", "response_types_supported")}})


def _providers() -> dict[str, Provider]:
    settings = current_controller().manifest.settings(SOCIAL_LOGIN)
    if settings is None:
        raise ConsoleError(404, "This manifest has no social-login package.")
    try:
        return social_settings.providers(settings)
    except CommerceError as error:
        raise ConsoleError(409, f"{error.reason} (fix it in .env and restart the emulator)") from None


def _discovery_url(provider: Provider) -> str:
    return provider.discovery_url or well_known_configuration(provider.issuer)


# ------------------------------------------------------------------------------ the exchange

@console.post("/console/api/exchange")
def run_exchange() -> Response:
    """Sign the exchange mutation as one of the store's integrations and send it to `/graphql`.

    Body: {"integration": id, "customer": {email, firstname, lastname, is_subscribed}, "store": code}.
    """
    _require_local("exchanges")
    body = _json_body()
    if not isinstance(body.get("customer"), dict):
        raise ConsoleError(400, 'Send {"integration": id, "customer": {"email", "firstname", "lastname"}}.')
    integration = _signing_integration(body.get("integration"))
    customer = {k: body["customer"].get(k) for k in ("email", "firstname", "lastname")}
    customer["is_subscribed"] = bool(body["customer"].get("is_subscribed", False))
    result = exchange(current_app._get_current_object(), integration, customer,  # type: ignore[attr-defined]
                      base_url=request.host_url, settings=_context().settings(),
                      store_code=str(body.get("store") or ""))
    activations_store = current_controller().activations
    records = [r for i in result["activationIds"] for r in timeline(activations_store, i)]
    result["timeline"] = [_record(a) for a in records]
    return jsonify(result)


@console.post("/console/api/sign")
def sign() -> Response:
    """The GraphQL editor's signing: an Authorization header for `body` POSTed to this `/graphql`.

    Body: {"integration": id, "body": "<the exact JSON text to send>"}. Local only, as the exchange.
    """
    _require_local("requests")
    payload = _json_body()
    if not isinstance(payload.get("body"), str):
        raise ConsoleError(400, 'Send {"integration": id, "body": "<the request body>"}.')
    integration = _signing_integration(payload.get("integration"))
    url = signed_url(request.host_url, _context().settings())
    signed = SignedRequest(method="POST", url=url, headers={"content-type": "application/json"}, body=payload["body"])
    return jsonify({"authorization": authorization_header(signed, integration, int(time.time()), secrets.token_hex(16)),
                    "url": url})


def _require_local(what: str) -> None:
    why = refusal(request.environ)
    if why is not None:
        raise ConsoleError(403, f"The console signs {what} only for a browser on this machine with the "
                                f"emulator listening on loopback: {why}.")


def _json_body() -> dict[str, Any]:
    """The JSON object posted, read as strictly as a client's JSON anywhere (customer_auth.client_json)."""
    try:
        body = client_json.loads(request.get_data(as_text=True))
    except ValueError as error:
        raise ConsoleError(400, f"The request body is not valid JSON: {error}.") from None
    if not isinstance(body, dict):
        raise ConsoleError(400, "The request body must be a JSON object.")
    return body


def _signing_integration(value: Any) -> Integration:
    integration_id = _as_id(value)
    integration = _store().integration(integration_id) if 0 < integration_id <= MAX_ID else None
    if integration is None:
        raise ConsoleError(404, f"No integration {value!r} in the store.")
    return integration


def _as_id(value: Any) -> int:
    """An integration id: a JSON integer, or its decimal digits as text (a float, 1e999 or NaN is none)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        try:
            return int(value)
        except ValueError:  # more digits than int() takes
            pass
    raise ConsoleError(400, f"integration must be an integration id, got {value!r:.40}")
