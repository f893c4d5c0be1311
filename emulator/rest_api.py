"""OpenWhisk's REST API for namespaces, packages and actions (what `wsk` and the `openwhisk` npm client call).

Routes, parameters, status codes and messages follow the controller (core/controller/.../Controller.scala,
Actions.scala, Packages.scala, Namespaces.scala, Limits.scala, ApiUtils.scala and apiv1swagger.json),
plus the one route of Adobe I/O Runtime that Adobe's aio CLI needs (log forwarding). Every route under
`/api/v1/namespaces` and `/runtime/namespaces` takes HTTP basic authentication with the emulator's key
(`authenticate`, which `create_app` installs for the activations routes too). The rules live in the
registry and the controller; the routes only translate HTTP.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from customer_auth import client_json
from emulator.activations import ACTIVATION_HEADER, INTERNAL_ERROR, SUCCESS, Activation, new_activation_id
from emulator.apikey import key_matches
from emulator.controller import Controller, EntityNotFound
from emulator.manifest import Sequence
from emulator.platform import info_document, namespace_limits
from emulator.registry import MAX_CODE_BYTES, RESOURCE_DOES_NOT_EXIST, ApiError
from emulator.throttling import TOO_MANY_REQUESTS, Throttled
from emulator.web_actions import MAX_WAIT_MS, PARAMETERS_NOT_ALLOWED, error_response, final_params

# The well-known key of OpenWhisk's `guest` namespace (ansible/files/auth.guest), which wsk's
# local setups use; any other key is given with --auth / OW_AUTH.
GUEST_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
# pekko-http's default rejection messages, which OpenWhisk wraps as {"error", "code"} (BasicHttpService).
AUTH_MISSING = "The resource requires authentication, which was not supplied with the request"
AUTH_INVALID = "The supplied authentication is invalid"
NOT_AUTHORIZED = "The supplied authentication is not authorized to access '{}'."  # Messages.notAuthorizedtoAccessResource
AUTH_CHALLENGE = 'Basic realm="OpenWhisk secure realm"'
MAX_LIST_LIMIT = 200
DOCS_WITH_COUNT = "The parameter 'docs' is not permitted with 'count'."
BAD_EPOCH = "Parameter is not a valid value for epoch seconds: {}"  # OpenWhisk's words, for milliseconds too
MAX_PUT_BYTES = MAX_CODE_BYTES * 4 // 3 + 1024 * 1024  # a 48 MB zip in base64, plus the document
KEYED_PATHS = ("/api/v1/namespaces", "/runtime/namespaces")
HOME_PAGE = "openwhisk_home_page"  # app.extensions: the page a browser gets at `/` (the console), if any
# Adobe I/O Runtime keeps a namespace's logs itself unless told to forward them elsewhere.
LOGS_KEPT = "adobe_io_runtime"

rest = Blueprint("openwhisk_rest", __name__)


def _controller() -> Controller:
    return current_app.extensions["openwhisk"]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = error_response(status, message, new_activation_id())
    return Response(resp.body, status=status, mimetype="application/json", headers=headers)


# ------------------------------------------------------------------------------ authentication

def authenticate() -> Response | None:
    """before_request hook: the namespaces API needs the key; web actions and GraphQL do not."""
    if not request.path.startswith(KEYED_PATHS):
        return None
    ok = key_matches(request.headers.get("Authorization"), current_app.config["OW_AUTH"])
    if ok:
        return None
    return _error(401, AUTH_MISSING if ok is None else AUTH_INVALID, {"WWW-Authenticate": AUTH_CHALLENGE})


# ------------------------------------------------------------------------------ helpers

def _namespace(ns: str, *path: str) -> None:
    """Only this key's namespace (or `_`): another is refused as OpenWhisk's entitlement check does,
    403 naming the resource (its namespace, then the package and entity asked for)."""
    if ns not in ("_", _controller().namespace):
        raise ApiError(403, NOT_AUTHORIZED.format("/".join((ns, *path))))


def _int_arg(name: str, default: int, collection: str) -> int:
    return _query_int(name, f"The value '{{}}' is not an integer for {collection}.", default)


def _query_int(name: str, invalid: str, default: Any = None) -> Any:
    """The query parameter `name` as an integer, `default` when absent or empty; 400 with `invalid`
    (its `{}` the value given) when it is no integer."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, invalid.format(raw)) from None


def _page(collection: str) -> tuple[int, int]:
    limit, skip = _int_arg("limit", 30, collection), _int_arg("skip", 0, collection)
    if not 0 <= limit <= MAX_LIST_LIMIT:
        raise ApiError(400, f"The value '{limit}' is not in the range of 0 to {MAX_LIST_LIMIT} for {collection}.")
    if skip < 0:
        raise ApiError(400, f"The value '{skip}' is not greater than or equal to 0 for {collection}.")
    return limit, skip


def _bool_arg(name: str) -> bool:
    return request.args.get(name, "false").strip().lower() in ("true", "yes", "on", "1")


def _body() -> dict[str, Any]:
    data = request.get_data(cache=False)
    if request.max_content_length is not None and len(data) >= request.max_content_length:
        raise RequestEntityTooLarge()  # the byte past the limit (see create_app)
    if not data.strip():
        return {}
    try:
        body = client_json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError too
        raise ApiError(400, f"The request content was malformed:\n{exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request content was malformed:\nexpected a JSON object.")
    return body


@rest.errorhandler(ApiError)
def _api_error(err: ApiError) -> Response:
    return _error(err.status, err.message)


def prefers_html() -> bool:
    """A browser navigating (it asks for HTML before JSON), not an API client (`*/*` or JSON)."""
    accept = request.accept_mimetypes
    return accept.quality("text/html") > 0 and accept.best_match(["application/json", "text/html"]) == "text/html"


# ------------------------------------------------------------------------------ the platform

@rest.get("/")
def platform_info() -> Response:
    """OpenWhisk's info document (Controller.info; no key needed), which Adobe's aio CLI reads before
    a deployment; a browser navigating here gets the home page (the console) instead."""
    page = current_app.extensions.get(HOME_PAGE)
    if page is not None and prefers_html():
        return page()
    return _json(info_document())


@rest.get("/api/v1")
@rest.get("/api/v1/")
def info() -> Response:
    """What `wsk property get --apibuild` reads; no key needed, as in OpenWhisk (RestAPIs.info)."""
    return _json({"description": "OpenWhisk API", "api_version": "1.0.0", "api_version_path": "v1",
                  "build": "emulator", "buildno": "emulator"})


@rest.get("/api/v1/namespaces")
def list_namespaces() -> Response:
    return _json([_controller().namespace])


@rest.get("/api/v1/namespaces/<ns>/limits")
def limits(ns: str) -> Response:
    """`wsk namespace get`'s limits (Limits.scala): the system's, as no namespace sets its own here."""
    _namespace(ns)
    return _json(namespace_limits())


@rest.get("/runtime/namespaces/<ns>/logForwarding")
def log_forwarding(ns: str) -> Response:
    """Adobe I/O Runtime's log-forwarding settings, which `aio rt activation logs` asks for first:
    the logs stay where `wsk activation logs` reads them, as an I/O Runtime namespace with none set."""
    _namespace(ns)
    return _json({LOGS_KEPT: {}})


@rest.get("/runtime/namespaces/<ns>/logForwarding/errors")
def log_forwarding_errors(ns: str) -> Response:
    _namespace(ns)
    return _json({"configured_forwarder": LOGS_KEPT, "errors": []})


@rest.get("/api/v1/namespaces/<ns>/packages")
def list_packages(ns: str) -> Response:
    _namespace(ns)
    return _collection("packages", _controller().registry.list_packages)


@rest.get("/api/v1/namespaces/<ns>/<collection>")
def list_unsupported(ns: str, collection: str) -> Response:
    """Triggers and rules are not implemented, so there are none: clients that list every collection
    of a namespace (the npm client's namespaces.get) get empty lists, as from an OpenWhisk without any."""
    _namespace(ns)
    if collection not in ("triggers", "rules"):
        raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
    return _collection(collection, lambda limit, skip: [])


def _count_arg() -> bool:
    """`count=true` (a list's size instead of its items), which OpenWhisk refuses beside `docs=true`."""
    count = _bool_arg("count")
    if count and _bool_arg("docs"):
        raise ApiError(400, DOCS_WITH_COUNT)
    return count


def _collection(name: str, listing: Callable[[int, int], list[Any]]) -> Response:
    """A collection's page (`limit`, `skip`), or its size with `count=true`, as OpenWhisk lists."""
    limit, skip = _page(name)
    if _count_arg():
        return _json({name: len(listing(0, skip))})  # limit 0: all of them
    return _json(listing(limit, skip))


@rest.get("/api/v1/namespaces/<ns>/packages/<pkg>")
def get_package(ns: str, pkg: str) -> Response:
    _namespace(ns, pkg)
    return _json(_controller().registry.get_package(pkg))


@rest.put("/api/v1/namespaces/<ns>/packages/<pkg>")
def put_package(ns: str, pkg: str) -> Response:
    _namespace(ns, pkg)
    return _json(_controller().registry.put_package(pkg, _body(), _bool_arg("overwrite")))


@rest.delete("/api/v1/namespaces/<ns>/packages/<pkg>")
def delete_package(ns: str, pkg: str) -> Response:
    _namespace(ns, pkg)
    return _json(_controller().delete_package(pkg, _bool_arg("force")))


# ------------------------------------------------------------------------------ actions

@rest.get("/api/v1/namespaces/<ns>/actions")
def list_actions(ns: str) -> Response:
    _namespace(ns)
    return _collection("actions", _controller().registry.list_actions)


@rest.get("/api/v1/namespaces/<ns>/actions/<pkg>/")
def list_package_actions(ns: str, pkg: str) -> Response:
    """`wsk action list PACKAGE` (the trailing slash is how it asks)."""
    _namespace(ns, pkg)
    return _collection("actions", lambda limit, skip: _controller().registry.list_actions(limit, skip, pkg))


@rest.get("/api/v1/namespaces/<ns>/actions/<pkg>/<name>")
def get_action(ns: str, pkg: str, name: str) -> Response:
    _namespace(ns, pkg, name)
    code = request.args.get("code", "true").strip().lower() != "false"
    return _json(_controller().registry.get_action(pkg, name, code=code))


@rest.put("/api/v1/namespaces/<ns>/actions/<pkg>/<name>")
def put_action(ns: str, pkg: str, name: str) -> Response:
    _namespace(ns, pkg, name)
    # A zip in base64 is far above the 1 MB web body limit; one byte past this route's (see create_app).
    request.max_content_length = MAX_PUT_BYTES + 1
    return _json(_controller().put_action(pkg, name, _body(), _bool_arg("overwrite")))


@rest.delete("/api/v1/namespaces/<ns>/actions/<pkg>/<name>")
def delete_action(ns: str, pkg: str, name: str) -> Response:
    _namespace(ns, pkg, name)
    return _json(_controller().delete_action(pkg, name))


@rest.route("/api/v1/namespaces/<ns>/actions/<name>", methods=["GET", "PUT", "POST", "DELETE"])
def default_package_action(ns: str, name: str) -> Response:
    """Actions outside a package are not supported by the emulator: say so rather than a bare 404."""
    _namespace(ns, name)
    return _error(404 if request.method != "PUT" else 400,
                  "This emulator keeps actions in packages: use /actions/<package>/<name>."
                  if request.method == "PUT" else RESOURCE_DOES_NOT_EXIST)


@rest.post("/api/v1/namespaces/<ns>/actions/<pkg>/<name>")
def invoke_action(ns: str, pkg: str, name: str) -> Response:
    """Invoke: blocking (`?blocking=true`, optionally `&result=true`) or not (202 {activationId})."""
    _namespace(ns, pkg, name)
    controller = _controller()
    fqn = f"{pkg}/{name}"
    blocking, result_only = _bool_arg("blocking"), _bool_arg("result")
    wait_ms = _int_arg("timeout", MAX_WAIT_MS, "actions")
    if not 0 < wait_ms <= MAX_WAIT_MS:
        raise ApiError(400, f"Timeout must be number of milliseconds up to {MAX_WAIT_MS}.")
    payload = _body()
    entity = controller.find(fqn)
    if entity is None:
        raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
    if set(payload) & final_params(entity):
        raise ApiError(400, PARAMETERS_NOT_ALLOWED)  # final parameters may not be overridden
    activation_id = new_activation_id()
    future = controller.start(fqn, payload, activation_id=activation_id)
    headers = {ACTIVATION_HEADER: activation_id}
    # Non-blocking, or blocking past the wait: 202 with the id, the record appears when it ends.
    if not blocking:
        return _json({"activationId": activation_id}, 202, headers)
    try:
        act = future.result(wait_ms / 1000)
    except TimeoutError:
        return _json({"activationId": activation_id}, 202, headers)
    except EntityNotFound:
        raise ApiError(404, RESOURCE_DOES_NOT_EXIST) from None
    except Throttled as throttled:  # no worker took it in time: its record says why (emulator.throttling)
        return _error(throttled.status, TOO_MANY_REQUESTS, headers)
    except Exception:  # the emulator's fault: OpenWhisk answers 500
        return _error(500, "Internal Server Error")
    # An action's record comes back before its logs are collected, as from OpenWhisk's invoker (a
    # sequence's logs, its components' ids, are there): `wsk activation logs ID` reads them.
    body = act.response.result if result_only else {**act.to_dict(),
                                                    "logs": act.logs if isinstance(entity, Sequence) else []}
    code = act.response.status_code
    status = 200 if code == SUCCESS else 500 if code == INTERNAL_ERROR else 502  # Actions.doInvoke
    return _json(body, status, headers)


# ------------------------------------------------------------------------------ activations

@rest.get("/api/v1/namespaces/<ns>/activations")
def list_activations(ns: str) -> Response:
    """Newest first (the last ended first); `limit` (default 30, at most 200), `skip`, `name` as in `wsk activation
    list`, `since` / `upto` (epoch ms, on the start), `docs=true` for whole records (else summaries,
    as OpenWhisk lists them), `count=true` for their number."""
    _namespace(ns)
    limit, skip = _page("activations")
    count, docs = _count_arg(), _bool_arg("docs")
    since, upto = (_query_int(name, BAD_EPOCH) for name in ("since", "upto"))
    items, total = _controller().activations.page(limit or 30, skip, name=request.args.get("name"),
                                                  since=since, upto=upto)
    if count:
        return _json({"activations": max(total - skip, 0)})
    return _json([a.to_dict() if docs else a.summary() for a in items])


def _activation(ns: str, activation_id: str) -> Activation:
    if len(activation_id) != 32:  # ActivationId.parse: 32 lower-case hex digits
        raise ApiError(400, f"Activation id length is {len(activation_id)} but must be 32.")
    if not set(activation_id) <= set("0123456789abcdef"):
        raise ApiError(400, "The activation id is not valid.")
    _namespace(ns, activation_id)
    found = _controller().activations.get(activation_id)
    if found is None:
        raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
    return found


@rest.get("/api/v1/namespaces/<ns>/activations/<activation_id>")
def get_activation(ns: str, activation_id: str) -> Response:
    return _json(_activation(ns, activation_id).to_dict())


@rest.get("/api/v1/namespaces/<ns>/activations/<activation_id>/logs")
def get_logs(ns: str, activation_id: str) -> Response:
    return _json({"logs": _activation(ns, activation_id).logs})


@rest.get("/api/v1/namespaces/<ns>/activations/<activation_id>/result")
def get_result(ns: str, activation_id: str) -> Response:
    return _json(_activation(ns, activation_id).response.to_dict())
