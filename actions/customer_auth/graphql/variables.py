"""Variable values checked against their definitions, in the wording Commerce's clients match.

A fault of an input object (a required field left out, a field it does not define) reads as
Commerce's documentation words it, whether the input came inline or in variables:
`Field CustomerCreateInput.email of required type String! was not provided`. graphql-core, like
graphql-php, would print the whole object in a variable's error, the shopper's email with it.
A bad value where a scalar belongs (null, or of the wrong type) reads as graphql-php words a
variable's: the value (cut past 100 characters) and where it is, e.g. `Variable "$input" got invalid
value null at "input.customer.firstname"; Expected non-nullable type "String!" not to be null.`
Where an object belongs, what was sent (a customer as a JSON string, say) is never repeated.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableDefinitionNode,
    coerce_input_value,
    is_input_type,
    is_leaf_type,
    is_non_null_type,
    type_from_ast,
)
from graphql.pyutils import inspect

from ..customer_input import MAX_ERRORS
from ..errors import INPUT
from ..secret_names import names_secret
from . import messages

_MISSING_FIELD = re.compile(r"^Field '(\w+)' of required type '([^']+)' was not provided\.")


class _TooManyErrors(Exception):
    """Ends a coercion once MAX_ERRORS are known: a huge invalid list would otherwise cost seconds."""


def variable_errors(
    schema: GraphQLSchema, operation: OperationDefinitionNode, inputs: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every coercion error of `inputs` for the operation's variables, in Commerce's error shape."""
    errors: list[dict[str, Any]] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        var_type = type_from_ast(schema, definition.type)
        if var_type is None or not is_input_type(var_type):
            continue  # validation has already reported it
        if name not in inputs:
            if definition.default_value is None and is_non_null_type(var_type):
                errors.append(messages.error(
                    f'Variable "${name}" of required type "{inspect(var_type)}" was not provided.', INPUT,
                    _location(definition),
                ))
            continue
        value = inputs[name]
        if value is None and is_non_null_type(var_type):
            errors.append(
                messages.error(f'Variable "${name}" of non-null type "{inspect(var_type)}" must not be null.',
                               INPUT, _location(definition))
            )
            continue

        def on_error(path: Sequence[str | int], invalid: Any, error: GraphQLError, var_type: Any = var_type,
                     definition: VariableDefinitionNode = definition, name: str = name, value: Any = value) -> None:
            message = _message(name, var_type, path, invalid, error.message, _holds_secret(value, path))
            errors.append(messages.error(message, INPUT, _location(definition)))
            if len(errors) >= MAX_ERRORS:
                raise _TooManyErrors

        try:
            coerce_input_value(value, var_type, on_error)
        except _TooManyErrors:
            break
        except RecursionError:
            errors.append(messages.error(f'Variable "${name}" is nested too deeply.', INPUT, _location(definition)))
        if len(errors) >= MAX_ERRORS:
            break
    return errors[:MAX_ERRORS]


def _location(definition: VariableDefinitionNode) -> Any:
    """Where the variable is defined, found only for an error (a valid request never needs it)."""
    return GraphQLError("", definition).locations


def _message(name: str, var_type: Any, path: Sequence[str | int], invalid: Any, message: str, secret: bool) -> str:
    missing = _MISSING_FIELD.match(message)
    if missing:
        parent = _type_at(var_type, path)
        if parent is not None:
            return messages.missing_field(parent.name, missing.group(1), missing.group(2))
    if invalid is not None and not is_leaf_type(_nullable(_type_at_path(var_type, path))):
        return messages.translate(message)  # where an object or a list belongs, what was sent is not repeated
    return messages.invalid_variable(name, path, invalid, messages.translate(message), secret)


def _holds_secret(value: Any, path: Sequence[str | int]) -> bool:
    """Whether the place `path` leads to in `value` holds a secret: a field on the way is named like
    one, or an object on the way is a custom attribute whose code is."""
    for key in path:
        if isinstance(value, Mapping) and names_secret(value.get("attribute_code", "")):
            return True
        if isinstance(key, str) and names_secret(key):
            return True
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return False
    return False


def _type_at(type_: Any, path: Sequence[str | int]) -> GraphQLInputObjectType | None:
    """The input object type found by following `path` (field names, list indexes) into `type_`."""
    found = _nullable(_type_at_path(type_, path))
    return found if isinstance(found, GraphQLInputObjectType) else None


def _type_at_path(type_: Any, path: Sequence[str | int]) -> Any:
    """The type expected where `path` (field names, list indexes) leads in `type_`; None off the schema."""
    for key in path:
        type_ = _nullable(type_)
        if isinstance(key, int):
            if not isinstance(type_, GraphQLList):
                return None
            type_ = type_.of_type
        elif isinstance(type_, GraphQLInputObjectType) and key in type_.fields:
            type_ = type_.fields[key].type
        else:
            return None
    return type_


def _nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_
