"""The GraphQL facade: GraphQL over HTTP in, activations and the library behind, Commerce's answers out.

Framework-free: `handle(method, path, query_string, headers, body) -> (status, headers, body)` is the
whole HTTP surface, shared by the emulator's Flask route, a `graphql` web action and the tests.

HTTP rules (GraphQL over HTTP, and Commerce where they differ):
- POST with `application/json` `{query, variables, operationName}`; GET with the same as query
  parameters. A mutation over GET is refused with 405 (it must not run on a safe method).
- A request that is not a GraphQL request (bad JSON, no query) answers 400 with a GraphQL error body.
- A GraphQL request answers 200, errors or not, as Commerce does.
- Nothing raises out of `handle`: an unexpected failure answers `Internal server error`, and its
  detail goes to the log only.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    build_ast_schema,
    execute,
    get_operation_ast,
    parse,
)

from .. import client_json
from .. import settings as settings_of
from ..errors import INPUT, INTERNAL, CommerceError
from ..openwhisk import TooManyRequests
from . import messages
from .documents import DocumentCache, Limits
from .resolvers import VERIFY_OAUTH, Context, FieldErrors, Invoke, Request, attach
from .variables import variable_errors

log = logging.getLogger("customer_auth.graphql")

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
JSON_HEADERS = {"Content-Type": "application/json"}
MAX_BODY_BYTES = 1024 * 1024
GET_MUTATION = "Mutation requests allowed only for POST requests"  # Commerce's HttpVerbValidator
CONTENT_TYPE = "Request content type must be application/json"  # Commerce's ContentTypeValidator
NO_QUERY = 'GraphQL Request must include at least one of those two parameters: "query" or "queryId"'
BAD_JSON = "Could not parse JSON: Syntax error"
HttpResponse = tuple[int, dict[str, str], bytes]
DOCUMENT_CACHE_SIZE = 256  # parsed and validated documents kept (a storefront sends a handful)


def load_schema() -> GraphQLSchema:
    """schema.graphql with its resolvers. The SDL is this package's own, shipped with it, so a cold
    start does not check it again against the SDL rules (that costs as much as parsing it):
    tests/graphql/test_schema.py does, and that the schema built without the check is the same."""
    return attach(build_ast_schema(parse(SCHEMA_PATH.read_text(encoding="utf-8")), assume_valid_sdl=True))


class BadRequest(Exception):
    """Not a GraphQL request at all: answered with its HTTP status and a GraphQL error body."""

    def __init__(self, message: str, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.headers = message, status, dict(headers or {})


class GraphQLFacade:
    """Serves the storefront schema (schema.graphql) for one set of settings.

    `settings`: the mapping the actions get (STORE_URL, CRYPT_KEY, JWT_ALG, STORES, DEFAULT_STORE, ...),
    plus the facade's own bounds GRAPHQL_MAX_DEPTH, GRAPHQL_MAX_LENGTH and GRAPHQL_MAX_TOKENS. `invoke(fqn, params)` runs an action or sequence blocking and returns
    the activation's result. `clock` gives the time in seconds (token expiry, revocation).
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        invoke: Invoke,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = dict(settings)
        self.invoke = invoke
        self.clock = clock
        self.schema = load_schema()
        self.limits = Limits(
            max_length=settings_of.GRAPHQL_MAX_LENGTH.read(self.settings),
            max_tokens=settings_of.GRAPHQL_MAX_TOKENS.read(self.settings),
            max_depth=settings_of.GRAPHQL_MAX_DEPTH.read(self.settings),
        )
        self.documents = DocumentCache(self.schema, self.limits, DOCUMENT_CACHE_SIZE)

    def cache_info(self) -> Any:
        """The document cache's statistics (functools' CacheInfo: hits, misses, maxsize, currsize)."""
        return self.documents.cache_info()

    # HTTP --------------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> HttpResponse:
        """One HTTP request to the GraphQL endpoint -> (status, headers, JSON body). Never raises."""
        request: Request | None = None
        try:
            request = Request(
                method=method.upper(),
                path=path or "/graphql",
                query_string=query_string or "",
                headers={str(k).lower(): str(v) for k, v in (headers or {}).items()},
            )
            query, variables, operation_name = self._graphql_params(request, body or b"")
            status, result = self._run(request, query, variables, operation_name)
            return status, dict(JSON_HEADERS), _dump(result)
        except BadRequest as bad:
            answer = {"errors": [messages.error(bad.message, INPUT)]}
            return bad.status, {**JSON_HEADERS, **bad.headers}, _dump(answer)
        except Exception:
            log.exception("the GraphQL facade failed")
            return 500, dict(JSON_HEADERS), _dump({"errors": [messages.internal_error()]})
        finally:
            if request is not None and request.oauth_signed and not request.authenticated:
                self._use_up(request)

    def _use_up(self, request: Request) -> None:
        """A signed request that ran no exchange (refused before one: a bad document, content type, ...;
        or a signed query) still has its signature checked and its nonce used, as Commerce
        authenticates every request before GraphQL runs: else the header, whose signature does not
        cover a JSON body, could be sent again with another body for as long as its timestamp is valid."""
        try:
            result = self.invoke(VERIFY_OAUTH, request.web_params({}))
        except TooManyRequests as busy:
            log.warning("the refused request's signature could not be verified (its nonce stays unused): %s", busy)
            return
        except Exception:
            log.exception("verifying the signature of a refused request failed")
            return
        if isinstance(result, dict) and "error" in result:
            log.warning("the refused request's signature did not verify either")

    def _graphql_params(self, request: Request, body: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
        if request.method == "GET":
            values = {k: v[0] for k, v in parse_qs(request.query_string, keep_blank_values=True).items()}
            variables: Any = values.get("variables")
            if variables:
                try:
                    variables = client_json.loads(variables)
                except ValueError:
                    raise BadRequest("Could not parse the variables parameter as JSON.") from None
            return _checked(values.get("query"), variables or None, values.get("operationName") or None)
        if request.method != "POST":
            raise BadRequest(f"HTTP method {request.method} is not supported.", 405, {"Allow": "GET, POST"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequest(CONTENT_TYPE, 415)
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes.", 413)
        try:
            payload = client_json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(BAD_JSON) from None
        if not isinstance(payload, dict):
            raise BadRequest(f"GraphQL Server expects a JSON object, but got {_json_kind(payload)}.")
        return _checked(payload.get("query"), payload.get("variables"), payload.get("operationName"))

    # GraphQL -----------------------------------------------------------------------------------
    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        request: Request | None = None,
    ) -> dict[str, Any]:
        """One GraphQL request -> Commerce's response object ({"errors": [...], "data": ...})."""
        _, result = self._run(request or Request(), query, dict(variables or {}), operation_name)
        return result

    def _run(
        self, request: Request, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[int, dict[str, Any]]:
        too_long = self.documents.too_long(query)
        if too_long:
            return 200, {"errors": [too_long]}
        prepared = self.documents.prepare(query)
        if prepared.document is None:
            # Request errors: execution never began, so there is no `data` entry (GraphQL spec 7.1.2).
            return 200, {"errors": copy.deepcopy(list(prepared.errors))}
        operation = get_operation_ast(prepared.document, operation_name)
        if operation is None:
            message = (
                f'Unknown operation named "{operation_name}".'
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            return 200, {"errors": [messages.error(message, INPUT)]}
        if operation.operation == OperationType.MUTATION and request.method == "GET":
            raise BadRequest(GET_MUTATION, 405, {"Allow": "POST"})
        if operation.operation == OperationType.SUBSCRIPTION:
            return 200, {"errors": [messages.error("Subscriptions are not supported.", INPUT)]}
        coercion_errors = variable_errors(self.schema, operation, variables or {})
        if coercion_errors:
            return 200, {"errors": coercion_errors}
        context = Context(request=request, settings=self.settings, invoke=self.invoke, clock=self.clock)
        result = execute(
            self.schema,
            prepared.document,
            context_value=context,
            variable_values=variables or {},
            operation_name=operation_name,
        )
        assert isinstance(result, ExecutionResult)  # every resolver is synchronous
        return 200, self._response(result)

    def _response(self, result: ExecutionResult) -> dict[str, Any]:
        if not result.errors:
            return {"data": result.data}
        errors: list[dict[str, Any]] = []
        for error in result.errors:
            errors.extend(self._field_errors(error))
        return {"errors": errors, "data": result.data}

    def _field_errors(self, error: GraphQLError) -> list[dict[str, Any]]:
        original = error.original_error
        locations, path = error.locations, error.path
        where = ".".join(map(str, path or []))
        if isinstance(original, FieldErrors):
            log.warning("%s: %s", where, original.reason)
            return [messages.error(m, c, locations, path) for m, c in original.errors]
        if isinstance(original, CommerceError) and original.category != INTERNAL:
            log.warning("%s %s: %s", where, original.category, original.reason)
            return [messages.error(m, original.category, locations, path) for m in original.messages]
        if isinstance(original, CommerceError):
            log.error("%s: %s", where, original.reason)
        elif original is not None:
            log.error("%s failed", where,
                      exc_info=(type(original), original, original.__traceback__))
        else:
            log.error("%s: %s", where, error.message)
        return [messages.internal_error(error)]


def _checked(query: Any, variables: Any, operation_name: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if query is None or query == "":
        raise BadRequest(NO_QUERY)
    if not isinstance(query, str):
        raise BadRequest(f'GraphQL Request parameter "query" must be string, but got {_json_kind(query)}.')
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest(
            f'GraphQL Request parameter "variables" must be object, but got {_json_kind(variables)}.'
        )
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest(
            f'GraphQL Request parameter "operationName" must be string, but got {_json_kind(operation_name)}.'
        )
    return query, variables, operation_name


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _dump(result: Mapping[str, Any]) -> bytes:
    return json.dumps(result, ensure_ascii=False).encode("utf-8")
