"""GraphQL errors in Commerce's shape and graphql-php's wording.

Commerce runs graphql-php; this facade runs graphql-core, which words the same errors differently.
Clients match Commerce's strings (the error table of Adobe's GraphQL reference for the mutation), so
graphql-core's messages are translated:

    graphql-core: Field 'CustomerCreateInput.email' of required type 'String!' was not provided.
    graphql-php:  Field CustomerCreateInput.email of required type String! was not provided

    graphql-core: Field 'xyz' is not defined by type 'CustomerCreateInput'. Did you mean ...?
    graphql-php:  Field "xyz" is not defined by type CustomerCreateInput.

Every other message has its quoted names in double quotes, as graphql-php prints them, and no
"Did you mean" suggestion (suggestions leak the schema to a caller probing it).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from graphql import GraphQLError

from ..errors import INPUT, INTERNAL, INTERNAL_ERROR
from ..passwords import REDACTED

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?\s*$")
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^Field '(\w+)\.(\w+)' of required type '([^']+)' was not provided\.$"),
        r"Field \1.\2 of required type \3 was not provided",
    ),
    (
        re.compile(r"^Field '(\w+)' is not defined by type '(\w+)'\.$"),
        r'Field "\1" is not defined by type \2.',
    ),
    (
        re.compile(r"^Field '(\w+)' argument '(\w+)' of type '([^']+)' is required, but it was not provided\.$"),
        r'Field "\1" argument "\2" of type "\3" is required but not provided.',
    ),
    (
        re.compile(r"^Expected non-nullable type '([^']+)' not to be None\.$"),
        r'Expected non-nullable type "\1" not to be null.',
    ),
    (
        re.compile(r"^Expected type '(\w+)' to be a mapping\.$"),
        r'Expected type "\1" to be an object.',
    ),
]
MAX_SHOWN_VALUE = 100  # characters of a bad variable value shown in its error
_QUOTED = re.compile(r"'([^'\s]+)'")


def translate(message: str) -> str:
    """graphql-core's wording -> graphql-php's."""
    message = _SUGGESTION.sub("", message)
    for pattern, replacement in _TRANSLATIONS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return _QUOTED.sub(r'"\1"', message)


def invalid_variable(name: str, path: Sequence[str | int], value: Any, message: str, secret: bool) -> str:
    """graphql-php's wording of a variable value that does not coerce: the value, as JSON (cut short
    past MAX_SHOWN_VALUE characters), and where it sits in the variable. A `secret` value (a
    password's, say) is never shown, in either place."""
    if secret:
        shown, message = REDACTED, without_value(message)
    else:
        shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > MAX_SHOWN_VALUE:
        shown = shown[:MAX_SHOWN_VALUE] + "…"
    where = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)
    at = f' at "{name}{where}"' if path else ""
    return f'Variable "${name}" got invalid value {shown}{at}; {message}'


def without_value(message: str) -> str:
    """A coercion message with the value it ends with hidden (`String cannot represent ...: [REDACTED]`)."""
    return f"{message.partition(': ')[0]}: {REDACTED}"


def missing_field(type_name: str, field_name: str, type_str: str) -> str:
    """A required input field left out, as the error table of Adobe's reference for the mutation says it."""
    return f"Field {type_name}.{field_name} of required type {type_str} was not provided"


def error(
    message: str,
    category: str,
    locations: Iterable[Any] | None = None,
    path: Sequence[str | int] | None = None,
) -> dict[str, Any]:
    """One error in Commerce's key order: message, locations, path, extensions.category."""
    out: dict[str, Any] = {"message": message}
    locations = list(locations or [])
    if locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in locations]
    if path:
        out["path"] = list(path)
    out["extensions"] = {"category": category}
    return out


def input_error(gql_error: GraphQLError, message: str | None = None) -> dict[str, Any]:
    """A syntax, validation or coercion error: graphql-input, translated."""
    return error(translate(message if message is not None else gql_error.message), INPUT, gql_error.locations)


def internal_error(gql_error: GraphQLError | None = None) -> dict[str, Any]:
    """What a client sees of anything unexpected: no detail, no stack trace."""
    if gql_error is None:
        return error(INTERNAL_ERROR, INTERNAL)
    return error(INTERNAL_ERROR, INTERNAL, gql_error.locations, gql_error.path)
