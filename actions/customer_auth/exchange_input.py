"""The exchange mutation's input (`ExchangeExternalCustomerTokenInput`): its types, as in the schema,
and the seal verify-oauth puts on it before it travels on.

Every sequence component's params and result are kept as activation records: what a client sends
goes on only as far as Commerce would keep it (`seal`). This module is verify-oauth's; the checks
of the input's values are upsert-customer's (customer_input.py).
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from . import passwords
from .secret_names import names_secret

TYPE_NAME = "CustomerCreateInput"
# field -> GraphQL type, in the schema's order
FIELDS: dict[str, str] = {
    "allow_remote_shopping_assistance": "Boolean",
    "custom_attributes": "[AttributeValueInput]",
    "date_of_birth": "String",
    "dob": "String",
    "email": "String!",
    "firstname": "String!",
    "gender": "Int",
    "is_subscribed": "Boolean",
    "lastname": "String!",
    "middlename": "String",
    "password": "String",
    "prefix": "String",
    "suffix": "String",
    "taxvat": "String",
}
# The input object types a CustomerCreateInput holds, with their fields, as in the schema.
INPUT_TYPES: dict[str, dict[str, str]] = {
    TYPE_NAME: FIELDS,
    "AttributeValueInput": {"attribute_code": "String!", "selected_options": "[AttributeInputSelectedOption]",
                            "value": "String"},
    "AttributeInputSelectedOption": {"value": "String!"},
    "ExchangeExternalCustomerTokenInput": {"customer": f"{TYPE_NAME}!"},
}


def seal(body: Any, attribute_codes: Collection[str] = ()) -> tuple[Any, passwords.PasswordSeal | None]:
    """The client's exchange input (`{"customer": {...}}`) as it may travel on, and the password's
    seal. The shopper's password goes on only sealed (`passwords.seal`; one that is no string as its
    type error, without its value). A field that no input type defines keeps its name, for the type
    check to refuse it by name, but not its value; so does whatever stands where an object belongs
    but is none (refused by its type alone). A custom attribute Commerce would not keep (its code
    not in `attribute_codes`) goes on as its code alone, to be refused by it. Where a scalar belongs
    but an object or list stands, what it holds under a secret's name is hidden. Every other value
    goes on as sent, for the type check to judge."""
    if not isinstance(body, dict):
        return body, None
    customer, password_seal = body.get("customer"), None
    if isinstance(customer, dict) and "password" in customer:
        password = customer["password"]
        if isinstance(password, str):
            password_seal = passwords.seal(password)
        elif password is not None:
            password_seal = {"errors": [passwords.NOT_A_STRING], "hash": None}
        body = {**body, "customer": {k: v for k, v in customer.items() if k != "password"}}
    return _names_only("ExchangeExternalCustomerTokenInput", body, frozenset(attribute_codes)), password_seal


def _names_only(type_name: str, value: Any, codes: frozenset[str]) -> Any:
    if type_name.startswith("["):
        inner = type_name[1:-1]
        return [_names_only(inner, item, codes) for item in value] if isinstance(value, list) else (
            _names_only(inner, value, codes))
    if value is None:
        return None
    if type_name not in INPUT_TYPES:
        return _without_secrets(value)
    if not isinstance(value, dict):
        return passwords.REDACTED
    if type_name == "AttributeValueInput" and not _kept(value.get("attribute_code"), codes):
        value = {name: item for name, item in value.items() if name not in ("value", "selected_options")}
    fields = INPUT_TYPES[type_name]
    return {name: _names_only(fields[name].rstrip("!"), item, codes) if name in fields else passwords.REDACTED
            for name, item in value.items()}


def _kept(code: Any, codes: frozenset[str]) -> bool:
    return isinstance(code, str) and code in codes


def _without_secrets(value: Any) -> Any:
    """A value, what it holds under a secret's name hidden, at any depth."""
    if isinstance(value, dict):
        return {k: passwords.REDACTED if names_secret(k) else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value
