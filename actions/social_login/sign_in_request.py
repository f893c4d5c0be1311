"""The sign-in request as the raw web sequence receives it: `POST` with a JSON object
`{"provider", "id_token", "nonce"?, "customer"?: {"firstname"?, "lastname"?, "is_subscribed"?}}` and an
optional `Store` header. Read strictly: anything else is `invalid-request`, saying what, never quoting
the token."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from customer_auth import client_json
from customer_auth.web import headers_of, raw_body

from .refusals import InvalidRequest

FIELDS = {"provider", "id_token", "nonce", "customer"}
CUSTOMER_FIELDS = {"firstname": str, "lastname": str, "is_subscribed": bool}
MAX_NONCE_LENGTH = 512
MAX_NAME_LENGTH = 255  # Commerce's customer name columns


@dataclass(frozen=True)
class SignInRequest:
    provider: str
    id_token: str
    nonce: str | None = None
    customer: dict[str, Any] = field(default_factory=dict)  # only the fields given
    store_code: str = ""


def parse(params: Mapping[str, Any]) -> SignInRequest:
    headers = headers_of(params)
    method = str(params.get("__ow_method") or "post").upper()
    if method != "POST":
        raise InvalidRequest(f"{method}: sign-in takes a POST with a JSON body",
                             message="Sign in with a POST of a JSON object.")
    try:
        body = client_json.loads(raw_body(params, headers) or "null")
    except ValueError:
        raise InvalidRequest("the body is not JSON", message="The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body is no JSON object", message="The request body must be a JSON object.")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown fields {unknown}"[:200],
                             message=f"Unknown field(s): {', '.join(unknown)[:200]}; a sign-in takes "
                                     f"{', '.join(sorted(FIELDS))}.")
    for name in ("provider", "id_token"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise InvalidRequest(f"{name} missing or not a string", message=f"\"{name}\" is required: a string.")
    nonce = body.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > MAX_NONCE_LENGTH):
        raise InvalidRequest("nonce is not a string of at most 512 characters",
                             message=f"\"nonce\" must be a string of at most {MAX_NONCE_LENGTH} characters.")
    return SignInRequest(provider=body["provider"], id_token=body["id_token"], nonce=nonce or None,
                         customer=_customer(body.get("customer")), store_code=headers.get("store", ""))


def _customer(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("customer is not an object", message="\"customer\" must be a JSON object.")
    unknown = sorted(set(value) - set(CUSTOMER_FIELDS))
    if unknown:
        raise InvalidRequest(f"unknown customer fields {unknown}"[:200],
                             message=f"Unknown customer field(s): {', '.join(unknown)[:200]}; a sign-in takes "
                                     f"{', '.join(CUSTOMER_FIELDS)}.")
    customer: dict[str, Any] = {}
    for name, kind in CUSTOMER_FIELDS.items():
        given = value.get(name)
        if given is None:
            continue
        if not isinstance(given, kind) or (kind is str and len(given) > MAX_NAME_LENGTH):
            what = "true or false" if kind is bool else f"a string of at most {MAX_NAME_LENGTH} characters"
            raise InvalidRequest(f"customer.{name} is not {what}", message=f"\"customer.{name}\" must be {what}.")
        if kind is str:
            given = given.strip()
        if given != "":
            customer[name] = given
    return customer
