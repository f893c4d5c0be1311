"""`CustomerCreateInput` validation with Commerce's rules and wording.

Two layers, as in Commerce: the GraphQL type check (unknown fields, required fields, scalar types,
worded as graphql-php words them), then the customer data rules (required values, email, lengths,
password strength). The GraphQL facade has already done the first layer for GraphQL requests; the web
sequence, which takes the input as JSON, relies on this one.
"""
from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from . import passwords
from .errors import InputError

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
LABELS = {
    "email": "Email",
    "firstname": "First Name",
    "lastname": "Last Name",
    "middlename": "Middle Name/Initial",
    "prefix": "Name Prefix",
    "suffix": "Name Suffix",
    "taxvat": "Tax/VAT Number",
}
MAX_LENGTH = 255
MAX_LOCAL_PART = 64  # bytes (RFC 5321; Laminas EmailAddress)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def type_errors(value: Any) -> list[str]:
    """The GraphQL input-coercion errors for a `CustomerCreateInput` value (graphql-php's wording)."""
    return _input_object_errors(TYPE_NAME, FIELDS, value)


def _input_object_errors(input_type: str, fields: dict[str, str], value: Any) -> list[str]:
    """An input object's coercion errors: not an object, unknown fields, missing required ones, and
    scalars of the wrong type (a nested input object is checked on its own)."""
    if not isinstance(value, dict):
        return [f'Expected type "{input_type}" to be an object.']
    errors = [f'Field "{name}" is not defined by type {input_type}.' for name in value if name not in fields]
    for name, type_name in fields.items():
        if type_name.endswith("!") and value.get(name) is None:
            errors.append(f"Field {input_type}.{name} of required type {type_name} was not provided")
    for name, item in value.items():
        if name in fields and item is not None:
            error = _scalar_error(fields[name].rstrip("!"), item)
            if error:
                errors.append(error)
    return errors


def _scalar_error(type_name: str, value: Any) -> str | None:
    if type_name == "String" and not isinstance(value, str):
        return f"String cannot represent a non string value: {_show(value)}"
    if type_name == "Boolean" and not isinstance(value, bool):
        return f"Boolean cannot represent a non boolean value: {_show(value)}"
    if type_name == "Int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"Int cannot represent non-integer value: {_show(value)}"
    if type_name.startswith("[") and not isinstance(value, list):
        return f'Expected type "{type_name}" to be a list.'
    return None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def validate(value: Any, *, email_error_shows_value: bool = False,
             password_seal: passwords.PasswordSeal | None = None) -> dict[str, Any]:
    """The input, checked and cleaned, or InputError with every message that applies. The password
    comes sealed (`password_seal`, from `passwords.seal_input`), or is sealed here if `value` still
    holds it; the result holds its hash (`password_hash`), never the password."""
    errors = type_errors(value)
    if errors:
        raise InputError(errors)
    customer = {k: (v.strip() if isinstance(v, str) and k != "password" else v) for k, v in value.items()}
    if customer.get("password") is not None:
        password_seal = passwords.seal(customer["password"])
    customer.pop("password", None)

    missing = [LABELS[name] for name in ("firstname", "lastname", "email") if not customer[name]]
    if missing:
        raise InputError(f"Required parameters are missing: {', '.join(missing)}")

    messages: list[str] = []
    for name, label in LABELS.items():
        text = customer.get(name)
        if not isinstance(text, str):
            continue
        if len(text) > MAX_LENGTH:
            messages.append(f'"{label}" length must be equal or less than {MAX_LENGTH} characters.')
        elif name != "email" and _CONTROL.search(text):  # the email's own check refuses them, in its words
            messages.append(f"{label} is not valid!")
    if not messages:
        email = customer["email"]
        if not is_valid_email(email):
            shown = email if email_error_shows_value else "Email"
            messages.append(f'"{shown}" is not a valid email address.')
    birth = customer.get("date_of_birth") or customer.get("dob")
    if birth:
        try:
            customer["dob"] = date.fromisoformat(birth).isoformat()
        except ValueError:
            messages.append('"Date of Birth" does not match the date format "yyyy-MM-dd".')
    if password_seal is not None:
        messages.extend(password_seal["errors"])
    if messages:
        raise InputError(messages)
    customer.pop("date_of_birth", None)
    if password_seal is not None:
        customer["password_hash"] = password_seal["hash"]
    return customer


def is_valid_email(email: str) -> bool:
    """Commerce's rule (Laminas EmailAddress, no TLD check): a dotted domain, no display name or comment,
    at most 64 bytes before the @ (email-validator checks that only in its strict mode)."""
    from email_validator import EmailNotValidError, validate_email  # ~25 ms to import: on first use

    if len(email.rpartition("@")[0].encode("utf-8")) > MAX_LOCAL_PART:
        return False
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


EXCHANGE_INPUT_FIELDS = {"customer": f"{TYPE_NAME}!"}


def customer_of(exchange_input: Any) -> Any:
    """The `customer` of an `ExchangeExternalCustomerTokenInput` value, checked like its GraphQL type."""
    errors = _input_object_errors("ExchangeExternalCustomerTokenInput", EXCHANGE_INPUT_FIELDS, exchange_input)
    if errors:
        raise InputError(errors)
    return exchange_input["customer"]
