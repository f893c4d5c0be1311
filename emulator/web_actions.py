"""Web actions: `/api/v1/web/<namespace>/<package>/<name>[.ext][/rest]`, with no HTTP library in it.

This is OpenWhisk's WhiskWebActionsApi (core/controller/.../WebActions.scala) rule for rule:
which entities are reachable, how a request becomes `__ow_*` params (raw or not), which
parameters a request may not set, and how a result becomes an HTTP answer (`.http` is the
default extension). Messages are OpenWhisk's. `handle` takes plain values and returns a
`WebResponse`, so the Flask route and the tests share it, as chalice's LocalGateway does.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from customer_auth import client_json
from emulator.activations import ACTIVATION_HEADER, Activation, new_activation_id
from emulator.apikey import key_matches
from emulator.manifest import MAX_SEQUENCE_LENGTH, Action, Sequence, is_binary_code, truthy
from emulator.throttling import TOO_MANY_REQUESTS, Throttled

MAX_BODY_BYTES = 1024 * 1024
MAX_WAIT_MS = 60_000  # controllerActivationConfig.maxWaitForBlockingActivation: web calls wait that long
RESERVED = frozenset({"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query", "__ow_body"})
EXTENSIONS = (".http", ".json", ".html", ".svg", ".text")

RESOURCE_DOES_NOT_EXIST = "The requested resource does not exist."
PARAMETERS_NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."
RESPONSE_NOT_READY = "Response not yet ready."
UNAUTHORIZED = "Authentication is possible but has failed or not yet been provided."  # pekko's 401 text
ERROR_PROCESSING_REQUEST = "There was an error processing your request."
PROPERTY_NOT_FOUND = "Response does not include requested property."
HTTP_CONTENT_TYPE_ERROR = "Response type in header did not match generated content type."
HTTP_UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
# OpenWhisk answers a developer error (timeout, crash, non-dict result) on a web action with
# 400 and this message (WebActions.scala completeRequest), not with the REST API's 502.
DEVELOPER_ERROR_STATUS = 400

CORS_ALLOW_METHODS = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
CORS_ALLOW_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"


def invalid_media(media_type: str) -> str:
    return f"Response is not valid '{media_type}'."


def entity_too_big(size: int, limit: int = MAX_BODY_BYTES) -> str:
    return f"Request larger than allowed: {size} > {limit} bytes."


@dataclass
class WebResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


class WebError(Exception):
    """A request OpenWhisk rejects before or after running the action; carries its HTTP status."""

    def __init__(self, status: int, message: str, activation_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.activation_id = status, message, activation_id


Find = Callable[[str], Action | Sequence | None]
Invoke = Callable[[str, dict[str, Any]], Activation]
Start = Callable[..., "Future[Activation]"]  # (fqn, params, *, activation_id)


class WebGateway:
    """`invoke` runs an activation in the calling thread, `start` in one of its own (Controller.start)."""

    def __init__(self, find: Find, invoke: Invoke, start: Start, namespace: str, api_key: str = "",
                 max_wait_ms: int = MAX_WAIT_MS) -> None:
        self._find, self._invoke, self._start, self.namespace = find, invoke, start, namespace
        self._api_key = api_key
        self.max_wait_ms = max_wait_ms

    def handle(self, namespace: str, path: str, method: str, headers: Mapping[str, str], query_string: str,
               body: bytes, *, scheme: str = "http") -> WebResponse:
        """Answer one web request; `path` is what follows `/api/v1/web/<namespace>/`."""
        transid = new_activation_id()
        cors: list[tuple[str, str]] = []
        try:
            entity, extension, rest = self._resolve(namespace, path)
            hdrs = {k.lower(): v for k, v in headers.items()}
            options = method.upper() == "OPTIONS"
            custom_options = truthy(entity.annotations.get("web-custom-options"))
            if not custom_options:
                cors = _cors(hdrs)
                if options:
                    return WebResponse(200, cors)
            if len(body) > MAX_BODY_BYTES:
                raise WebError(413, entity_too_big(len(body)))
            user = self.namespace if self._api_key and key_matches(hdrs.get("authorization"), self._api_key) else None
            if not options and not _authenticated(entity.annotations, hdrs, user):
                raise WebError(401, UNAUTHORIZED)
            params = web_params(entity, method, hdrs, query_string, body, rest=rest, scheme=scheme,
                                called_path=f"/api/v1/web/{namespace}/{path}", user=user)
            activation = self._activation(entity, params)
            response = _respond(activation, extension, transid)
        except WebError as err:
            response = error_response(err.status, err.message, transid)
            if err.activation_id:
                response.headers.append((ACTIVATION_HEADER, err.activation_id))
        names = {k.lower() for k, _ in response.headers}
        response.headers[:0] = [(k, v) for k, v in cors if k.lower() not in names]
        return response

    def _activation(self, entity: Action | Sequence, params: dict[str, Any]) -> Activation:
        """The activation, waited for as OpenWhisk waits for a web call's: `max_wait_ms` at most, then
        202 `Response not yet ready.` while it goes on. An entity whose time limits end within that
        runs in this thread: handing every call to another thread cost the web path about a third of
        its throughput (each hand-off waits for the GIL under load); its wait for a worker is bounded
        by the same limits. One no worker took in time is answered 429 (`emulator.throttling`)."""
        try:
            if self._time_limit_ms(entity) <= self.max_wait_ms:
                return self._invoke(entity.fqn, params)
            activation_id = new_activation_id()
            try:
                return self._start(entity.fqn, params, activation_id=activation_id).result(self.max_wait_ms / 1000)
            except TimeoutError:  # the id says where the result will be (x-openwhisk-activation-id)
                raise WebError(202, RESPONSE_NOT_READY, activation_id) from None
        except Throttled as throttled:
            raise WebError(throttled.status, TOO_MANY_REQUESTS, throttled.activation_id) from None

    def _time_limit_ms(self, entity: Action | Sequence | None, depth: int = 0) -> float:
        """How long `entity` may run: an action's timeout, a sequence's components' in turn."""
        if isinstance(entity, Action):
            return entity.timeout_ms
        if entity is None or depth > MAX_SEQUENCE_LENGTH:  # a deleted component ends the sequence
            return 0
        return sum(self._time_limit_ms(self._find(fqn), depth + 1) for fqn in entity.components)

    def _resolve(self, namespace: str, path: str) -> tuple[Action | Sequence, str, str]:
        if namespace != self.namespace:  # `_` names no namespace here: OpenWhisk finds no identity for it
            raise WebError(404, RESOURCE_DOES_NOT_EXIST)
        parts = path.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise WebError(404, RESOURCE_DOES_NOT_EXIST)
        package, name = parts[0], parts[1]
        rest = "/" + "/".join(parts[2:]) if len(parts) > 2 else ""
        extension = next((e for e in EXTENSIONS if name.endswith(e)), None)
        if extension:
            name = name[: -len(extension)]
        entity = self._find(f"{package}/{name}") if package != "default" else None
        if entity is None or not entity.web:
            raise WebError(404, RESOURCE_DOES_NOT_EXIST)
        return entity, extension or ".http", rest


def error_response(status: int, message: str, transid: str) -> WebResponse:
    """OpenWhisk's ErrorResponse: {"error": message, "code": transaction id}."""
    body = json.dumps({"error": message, "code": transid}).encode()
    return WebResponse(status, [("Content-Type", "application/json")], body)


# ------------------------------------------------------------------------------------ request side

def _cors(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", CORS_ALLOW_METHODS),
        ("Access-Control-Allow-Headers", headers.get("access-control-request-headers", CORS_ALLOW_HEADERS)),
    ]


def web_params(entity: Action | Sequence, method: str, headers: Mapping[str, str], query_string: str, body: bytes,
               *, rest: str = "", scheme: str = "http", called_path: str, user: str | None = None) -> dict[str, Any]:
    """The params OpenWhisk's gateway and controller would give `entity` for this request;
    `called_path` becomes x-forwarded-uri, `user` (the namespace of a request that carried the API
    key) `__ow_user`. Raises WebError (400)."""
    hdrs = {k.lower(): v for k, v in headers.items()}
    _gateway_headers(hdrs, scheme, called_path, query_string)
    params = _params(entity, method, hdrs, rest, query_string, body)
    if user is not None:
        params["__ow_user"] = user
    return params


def _authenticated(annotations: Mapping[str, Any], headers: Mapping[str, str], user: str | None) -> bool:
    """`require-whisk-auth` (WebActions.confirmAuthenticated): a string or number is the secret the
    X-Require-Whisk-Auth header must hold; true wants the API key; false (or no annotation), anyone;
    anything else (null, a list) no one."""
    if "require-whisk-auth" not in annotations:
        return True
    required = annotations["require-whisk-auth"]
    if required is False:
        return True
    if required is True:
        return user is not None
    if isinstance(required, (str, int, float)):
        given = headers.get("x-require-whisk-auth")
        return given is not None and hmac.compare_digest(given.encode(), str(required).encode())
    return False


def _gateway_headers(headers: dict[str, str], scheme: str, path: str, query_string: str) -> None:
    """What the API gateway in front of OpenWhisk adds; x-forwarded-uri is the URL the client called."""
    headers.setdefault("x-forwarded-proto", scheme)
    if "host" in headers:
        headers.setdefault("x-forwarded-host", headers["host"])
    headers["x-forwarded-uri"] = path + (f"?{query_string}" if query_string else "")


def _params(entity: Action | Sequence, method: str, headers: dict[str, str], rest: str, query_string: str,
            body: bytes) -> dict[str, Any]:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    params: dict[str, Any] = {"__ow_method": method.lower(), "__ow_headers": dict(headers), "__ow_path": rest}
    if entity.raw:  # raw: nothing is parsed and nothing is checked (WebActions.processRequest)
        params["__ow_query"] = query_string
        params["__ow_body"] = _opaque_body(body, media) if body else ""
        return params
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    fields: dict[str, Any] | None = None
    body_value: Any = None
    if body:
        if _json_family(media):
            try:
                body_value = client_json.loads(body.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError too
                raise WebError(400, f"The request content was malformed:\n{exc}") from None
        elif media == "application/x-www-form-urlencoded":
            body_value = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        else:
            body_value = _opaque_body(body, media)
        fields = body_value if isinstance(body_value, dict) else None
    forbidden = RESERVED | final_params(entity)
    if forbidden & (set(query) | set(fields or {})):
        raise WebError(400, PARAMETERS_NOT_ALLOWED)
    params.update(query)  # precedence: defaults < query < body (defaults are merged by invoke)
    if fields is not None:
        params.update(fields)
    elif body_value is not None:
        params["__ow_body"] = body_value
    return params


def final_params(entity: Action | Sequence) -> set[str]:
    """annotation final: true makes every defined input of an action or a sequence immutable, for web
    calls and REST invokes alike (WhiskActionMetaData.immutableParameters)."""
    if not truthy(entity.annotations.get("final")):
        return set()
    return {k for k, v in entity.inputs.items() if v is not None}


def _opaque_body(body: bytes, media: str) -> str:
    """The body as a string; base64 for binary types and, as OpenWhisk still does, application/json."""
    if media == "application/json" or _json_family(media) or not _is_text(media):
        return base64.b64encode(body).decode("ascii")
    return body.decode("utf-8", errors="replace")


def _json_family(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _is_text(media: str) -> bool:
    return (media.startswith("text/") or media.endswith("+xml") or _json_family(media) or media in (
        "application/xml", "application/javascript", "application/x-www-form-urlencoded", "application/graphql"))


# ----------------------------------------------------------------------------------- response side

def _respond(activation: Activation, extension: str, transid: str) -> WebResponse:
    result = activation.response.result
    status = activation.response.status_code
    if status == 0:
        projection: Any = result
    elif status == 1:
        projection = result.get("error")
    else:
        projection = None
    if status > 1:
        response = error_response(DEVELOPER_ERROR_STATUS, ERROR_PROCESSING_REQUEST, transid)
    else:
        try:
            response = _TRANSCODERS[extension](projection)
        except WebError as err:
            response = error_response(err.status, err.message, transid)
    response.headers.append((ACTIVATION_HEADER, activation.activation_id))
    return response


def _as_http(result: Any) -> WebResponse:
    """resultAsHttp: {statusCode, headers, body} -> HTTP; anything else is not valid message/http."""
    invalid = WebError(400, invalid_media("message/http"))
    if not isinstance(result, dict):
        raise invalid
    raw_headers = result.get("headers", {})
    if not isinstance(raw_headers, dict):
        raise invalid
    headers = [(k, v) for name, value in raw_headers.items() for k, v in _header_values(name, value, invalid)]
    code = result.get("statusCode")
    if code is not None:
        code = _status_code(code, invalid)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    body = result.get("body")
    if body is None or body == "":
        return WebResponse(code or 204, headers)
    if isinstance(body, str):
        media = (content_type or "text/html").split(";")[0].strip().lower()
        if not media or "/" not in media:
            raise WebError(400, HTTP_UNKNOWN_CONTENT_TYPE)
        # Binary types come base64-encoded; so may JSON, for old web actions (interpretHttpResponse)
        if _is_text(media) and not (_json_family(media) and is_binary_code(body)):
            data = body.encode("utf-8")
        else:
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise WebError(400, HTTP_CONTENT_TYPE_ERROR) from None
        ctype = f"{media}; charset=UTF-8" if media.startswith("text/") else content_type  # pekko's text types
        return WebResponse(code or 200, headers + [("Content-Type", ctype)], data)
    media = (content_type or "application/json").split(";")[0].strip().lower()
    if not _json_family(media):
        raise WebError(400, HTTP_CONTENT_TYPE_ERROR)
    return WebResponse(code or 200, headers + [("Content-Type", content_type or "application/json")],
                       json.dumps(body).encode("utf-8"))


def _header_values(name: str, value: Any, invalid: WebError) -> list[tuple[str, str]]:
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, (str, int, float)):
        return [(name, str(value))]
    if isinstance(value, list):
        return [hv for item in value for hv in _header_values(name, item, invalid)]
    raise invalid


def _status_code(code: Any, invalid: WebError) -> int:
    if isinstance(code, bool):
        raise invalid
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    if isinstance(code, str):
        try:
            code = int(code)
        except ValueError:
            raise invalid from None
    if not isinstance(code, int) or not 100 <= code <= 599:
        raise invalid
    return code


def _as_json(result: Any) -> WebResponse:
    if not isinstance(result, (dict, list)):
        raise WebError(400, invalid_media("application/json"))
    return WebResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8"))


def _as_markup(field_name: str, media: str) -> Callable[[Any], WebResponse]:
    def transcode(result: Any) -> WebResponse:
        value = result.get("body", result.get(field_name)) if isinstance(result, dict) else result
        if not isinstance(value, str):
            raise WebError(400, invalid_media(media))
        return WebResponse(200, [("Content-Type", f"{media}; charset=UTF-8")], value.encode("utf-8"))
    return transcode


def _as_text(result: Any) -> WebResponse:
    value = result.get("body", result.get("text")) if isinstance(result, dict) else result
    if isinstance(result, dict) and "body" not in result and "text" not in result:
        raise WebError(404, PROPERTY_NOT_FOUND)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    else:
        text = str(value)
    return WebResponse(200, [("Content-Type", "text/plain; charset=UTF-8")], text.encode("utf-8"))


_TRANSCODERS: dict[str, Callable[[Any], WebResponse]] = {
    ".http": _as_http,
    ".json": _as_json,
    ".html": _as_markup("html", "text/html"),
    ".svg": _as_markup("svg", "image/svg+xml"),
    ".text": _as_text,
}
