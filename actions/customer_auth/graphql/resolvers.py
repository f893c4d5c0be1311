"""Field resolvers: each one translates a GraphQL field to the library or to an activation, and back.

No business rule lives here (see DESIGN.md): the exchange is the web sequence's job; the customer
token rules are `customer_auth.tokens`; store selection is `customer_auth.stores`.
"""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema

from .. import customer_input, settings, tokens
from ..customers import graphql_customer
from ..errors import (AUTHORIZATION, CUSTOMER_NOT_AUTHORIZED, BackpressureError, CommerceError, InputError,
                      InternalError)
from ..openwhisk import Invoke, TooManyRequests
from ..store import Store, open_store
from .documents import REQUIRED_ARGUMENTS, required_argument_message

log = logging.getLogger("customer_auth.graphql")

EXCHANGE_SEQUENCE = "customer-auth/exchange-external-customer-token"
VERIFY_OAUTH = "customer-auth/verify-oauth"  # the sequence's first step
# Request headers not passed on to the web sequence: they describe the facade's own HTTP exchange.
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
_MAX_LOGGED = 300


class FieldErrors(Exception):
    """Errors the web sequence answered for one field: [(message, category)], shown as they are."""

    def __init__(self, errors: list[tuple[str, str]], reason: str = "") -> None:
        self.errors = errors
        self.reason = reason or "; ".join(m for m, _ in errors)
        super().__init__(self.reason)


@dataclass
class Request:
    """The HTTP request a GraphQL operation came in (headers lower-cased)."""

    method: str = "POST"
    path: str = "/graphql"
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = False  # its OAuth signature went to verify-oauth (the exchange sequence ran)

    @property
    def oauth_signed(self) -> bool:
        return self.headers.get("authorization", "").lstrip().lower().startswith("oauth ")

    def web_params(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters OpenWhisk gives a raw web action for this request with `payload` as JSON body.

        `x-forwarded-uri` carries the path and query the client called (and signed), so verify-oauth
        rebuilds the URL of the signature base string; raw mode base64-encodes a JSON body.
        """
        headers = {k: v for k, v in self.headers.items() if k not in _HOP_HEADERS}
        headers["content-type"] = "application/json"
        headers["x-forwarded-uri"] = self.path + (f"?{self.query_string}" if self.query_string else "")
        return {
            "__ow_method": self.method.lower(),
            "__ow_headers": headers,
            "__ow_path": "",
            "__ow_query": self.query_string,
            "__ow_body": base64.b64encode(json.dumps(payload).encode()).decode(),
        }


@dataclass
class Context:
    """What the resolvers of one operation share: the request and the facade's services."""

    request: Request
    settings: Mapping[str, Any]
    invoke: Invoke
    clock: Callable[[], float]

    @cached_property
    def store(self) -> Store:
        return open_store(settings.STORE_URL.read(self.settings))

    def now(self) -> int:
        return int(self.clock())


# Mutation ----------------------------------------------------------------------------------------
def exchange_external_customer_token(_: Any, info: GraphQLResolveInfo, input: Any = None) -> dict[str, Any]:
    """Runs the web sequence with the request as the client sent it and the coerced input as body."""
    if input is None:  # a variable holding null: the literal cases are stopped by validation
        argument, type_str = REQUIRED_ARGUMENTS[("Mutation", info.field_name)]
        raise InputError(required_argument_message(info.field_name, argument, type_str))
    context: Context = info.context
    params = context.request.web_params({"customer": _plain(input["customer"])})
    context.request.authenticated = True
    try:
        result = context.invoke(EXCHANGE_SEQUENCE, params)
    except TooManyRequests as busy:  # the runtime shed the load: the client may try again
        raise BackpressureError(str(busy)) from None
    except Exception as exc:  # the platform failed us; the client learns nothing more
        log.exception("invoking %s failed", EXCHANGE_SEQUENCE)
        raise InternalError(f"invoke failed: {type(exc).__name__}") from None
    return exchange_output(result)


def exchange_output(result: Any) -> dict[str, Any]:
    """The activation's result as `ExchangeExternalCustomerTokenOutput`, or the errors it answered."""
    if not isinstance(result, dict):
        raise InternalError(f"the sequence returned {type(result).__name__}, not an object")
    if "error" in result:
        errors = _answered_errors(result["error"])
        if errors:
            raise FieldErrors(errors)
        raise InternalError(f"the sequence failed: {_short(result['error'])}")
    body = _json_value(result.get("body"))
    if isinstance(body, dict) and body.get("errors"):
        errors = _answered_errors({"body": body})
        if errors:
            raise FieldErrors(errors)
    if (
        result.get("statusCode", 200) == 200
        and isinstance(body, dict)
        and isinstance(body.get("customer"), dict)
        and isinstance(body.get("token"), str)
    ):
        return {"customer": body["customer"], "token": body["token"]}
    raise InternalError(f"the sequence answered an unexpected result (keys {sorted(result)})")


def _answered_errors(error: Any) -> list[tuple[str, str]]:
    """Commerce-shaped errors a web answer carries: {statusCode, body: {errors: [{message, extensions}]}}."""
    if not isinstance(error, dict):
        return []
    body = _json_value(error.get("body"))
    items = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return []
    out = []
    for item in items:
        message = item.get("message") if isinstance(item, dict) else None
        extensions = item.get("extensions") if isinstance(item, dict) else None
        category = extensions.get("category") if isinstance(extensions, dict) else None
        if not isinstance(message, str) or not isinstance(category, str):
            return []
        out.append((message, category))
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_LOGGED else text[:_MAX_LOGGED] + "..."


def _plain(value: Any) -> Any:
    """Coerced input values as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def revoke_customer_token(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    """Commerce's rule: every token of the customer with iat <= revoke_before is refused from now on."""
    context: Context = info.context
    customer_id = current_customer_id(context)
    context.store.revoke_tokens(tokens.USER_TYPE_CUSTOMER, customer_id, context.now())
    return {"result": True}


# Query -------------------------------------------------------------------------------------------
def customer(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    context: Context = info.context
    customer_id = current_customer_id(context)
    found = context.store.customer(customer_id)
    if found is None:
        raise _not_authorized(f"customer {customer_id} no longer exists")
    return graphql_customer(found.public_record())


def is_email_available(_: Any, info: GraphQLResolveInfo, email: str) -> dict[str, Any]:
    context: Context = info.context
    view = settings.store_view(context.settings, context.request.headers.get("store"))
    email = email.strip()
    if not email:
        raise InputError("Email must be specified")
    if not customer_input.is_valid_email(email):
        raise InputError("Email is invalid")
    if not settings.GUEST_CHECKOUT_LOGIN.read(context.settings):
        return {"is_email_available": True}  # Commerce >= 2.4.7: no account probing unless enabled
    return {"is_email_available": context.store.find_customer(view.website_id, email) is None}


def current_customer_id(context: Context) -> int:
    """The customer of the `Authorization: Bearer <customer token>` header, or Commerce's refusal."""
    scheme, _, token = context.request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _not_authorized("no bearer token")
    policy = settings.token_policy(context.settings)
    try:
        return tokens.read(token, policy, context.now(),
                           lambda customer_id: context.store.revoked_before(tokens.USER_TYPE_CUSTOMER, customer_id))
    except tokens.TokenError as refusal:
        raise _not_authorized(str(refusal)) from None


def _not_authorized(reason: str) -> CommerceError:
    return CommerceError(CUSTOMER_NOT_AUTHORIZED, AUTHORIZATION, reason)


# Types -------------------------------------------------------------------------------------------
def customer_custom_attributes(
    source: Mapping[str, Any], _: GraphQLResolveInfo, attributeCodes: list[str] | None = None
) -> list[dict[str, Any]]:
    """Stored `AttributeValueInput`s as `AttributeValueInterface` values, filtered by `attributeCodes`."""
    out = []
    for item in source.get("custom_attributes") or []:
        if not isinstance(item, Mapping):
            continue
        code = item.get("code") or item.get("attribute_code")
        if not code or (attributeCodes is not None and code not in attributeCodes):
            continue
        options = [o for o in item.get("selected_options") or [] if isinstance(o, Mapping)]
        if options:
            selected = [{"label": o.get("label", o.get("value")), "value": o.get("value")} for o in options]
            out.append({"code": code, "selected_options": selected})
        else:
            out.append({"code": code, "value": item.get("value") or ""})
    return out


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    """Wires the resolvers into a schema built from schema.graphql."""
    assert schema.query_type and schema.mutation_type
    mutation, query = schema.mutation_type.fields, schema.query_type.fields
    mutation["exchangeExternalCustomerToken"].resolve = exchange_external_customer_token
    mutation["revokeCustomerToken"].resolve = revoke_customer_token
    query["customer"].resolve = customer
    query["isEmailAvailable"].resolve = is_email_available
    schema.get_type("Customer").fields["custom_attributes"].resolve = customer_custom_attributes  # type: ignore[union-attr]
    schema.get_type("AttributeValueInterface").resolve_type = (  # type: ignore[union-attr]
        lambda value, *_: "AttributeSelectedOptions" if "selected_options" in value else "AttributeValue"
    )
    schema.get_type("AttributeSelectedOptionInterface").resolve_type = (  # type: ignore[union-attr]
        lambda *_: "AttributeSelectedOption"
    )
    return schema
