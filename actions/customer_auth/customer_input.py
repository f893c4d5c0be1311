"""`CustomerCreateInput` validation with Commerce's rules and wording.

Two layers, as in Commerce: the GraphQL type check and coercion (unknown fields, required fields,
scalar types and Int's 32-bit range, down to each custom attribute and its selected options, worded as
graphql-php words them), then the customer data rules (required values, email, lengths, names,
custom attributes, password strength). The GraphQL facade has already done the first layer for
GraphQL requests; the web sequence, which takes the input as JSON, relies on this one.

Before either, verify-oauth takes out of the input what must not travel (exchange_input.py).
"""
from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import date
from typing import Any

from . import custom_attributes, customer_names, exchange_input, passwords
from .errors import InputError
from .exchange_input import INPUT_TYPES, TYPE_NAME

LABELS = {
    "email": "Email",
    "firstname": "First Name",
    "lastname": "Last Name",
    "middlename": "Middle Name/Initial",
    "prefix": "Name Prefix",
    "suffix": "Name Suffix",
    "taxvat": "Tax/VAT Number",
}
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int
MAX_ERRORS = 50  # coercion errors reported for one input: a huge invalid list would otherwise cost seconds
MAX_LENGTH = 255
MAX_LOCAL_PART = 64  # bytes (RFC 5321; Laminas EmailAddress)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def coerce(type_name: str, value: Any) -> tuple[Any, list[str]]:
    """`value` as GraphQL coerces a variable of `type_name` (one value where a list belongs becomes a
    list of one, an integral float an Int), and the coercion errors in graphql-php's wording, at most
    MAX_ERRORS: the web sequence takes the input as JSON, and must store only what `/graphql` would."""
    errors: list[str] = []
    return _coerce(type_name, value, errors), errors[:MAX_ERRORS]


def _coerce(type_name: str, value: Any, errors: list[str]) -> Any:
    if type_name.startswith("["):  # the items of this schema's lists may be null
        coerced: list[Any] = []
        for item in value if isinstance(value, list) else [value]:
            if len(errors) >= MAX_ERRORS:  # refused anyway: the rest is not looked at
                break
            coerced.append(None if item is None else _coerce(type_name[1:-1], item, errors))
        return coerced
    if type_name in INPUT_TYPES:
        return _coerce_object(type_name, value, errors)
    if type_name == "Int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    error = _scalar_error(type_name, value)
    if error:
        errors.append(error)
    return value


def _coerce_object(type_name: str, value: Any, errors: list[str]) -> dict[str, Any] | None:
    errors.extend(_object_errors(type_name, value))
    if not isinstance(value, dict):
        return None
    fields = INPUT_TYPES[type_name]
    return {name: None if item is None else _coerce(fields[name].rstrip("!"), item, errors)
            for name, item in value.items() if name in fields}


def _object_errors(type_name: str, value: Any) -> list[str]:
    """What is wrong with an input object itself: not an object, fields it does not define, required
    fields left out (its fields' values are checked on their own)."""
    if not isinstance(value, dict):
        return [f'Expected type "{type_name}" to be an object.']
    fields = INPUT_TYPES[type_name]
    return [f'Field "{name}" is not defined by type {type_name}.' for name in value if name not in fields] + [
        f"Field {type_name}.{name} of required type {field_type} was not provided"
        for name, field_type in fields.items() if field_type.endswith("!") and value.get(name) is None]


def _scalar_error(type_name: str, value: Any) -> str | None:
    if type_name == "String" and not isinstance(value, str):
        return f"String cannot represent a non string value: {_show(value)}"
    if type_name == "Boolean" and not isinstance(value, bool):
        return f"Boolean cannot represent a non boolean value: {_show(value)}"
    if type_name == "Int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"Int cannot represent non-integer value: {_show(value)}"
    if type_name == "Int" and not INT_MIN <= value <= INT_MAX:
        return f"Int cannot represent non 32-bit signed integer value: {_show(value)}"
    return None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def validate(value: Any, *, email_error_shows_value: bool = False,
             password_seal: passwords.PasswordSeal | None = None,
             attribute_codes: Collection[str] = ()) -> dict[str, Any]:
    """The input, checked and cleaned, or InputError with every message that applies. The password
    comes sealed (`password_seal`, from `exchange_input.seal`), or is sealed here if `value` still
    holds it; the result holds its hash (`password_hash`), never the password, and no message shows
    it. `attribute_codes`: the custom attributes Commerce keeps (custom_attributes.py)."""
    if isinstance(value, dict) and "password" in value:  # a caller other than the sequence
        sealed, password_seal = exchange_input.seal({"customer": value}, attribute_codes)
        value = sealed["customer"]
    value, errors = coerce(TYPE_NAME, value)
    if errors:
        raise InputError(errors)
    customer = {k: (v.strip() if isinstance(v, str) else v) for k, v in value.items()}

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
        elif name in customer_names.FIELDS and not customer_names.is_valid(text):
            messages.append(customer_names.message(name))
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
    messages.extend(custom_attributes.errors(customer.get("custom_attributes") or (), attribute_codes)[:MAX_ERRORS])
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


def customer_of(exchange_input: Any) -> Any:
    """The `customer` of an `ExchangeExternalCustomerTokenInput` value, checked like its GraphQL type
    (the customer itself is checked by `validate`)."""
    errors = _object_errors("ExchangeExternalCustomerTokenInput", exchange_input)
    if errors:
        raise InputError(errors)
    return exchange_input["customer"]
