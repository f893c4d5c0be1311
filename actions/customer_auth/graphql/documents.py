"""Documents: parsed, bounded and validated once, then kept in an LRU keyed by the document text.

A repeated query (the common case: a storefront sends the same few documents) costs execution only.
Bounds, checked before any real work: the document's length (characters), its token count (the
parser stops past it) and its depth (graphql-php's QueryDepth rule, as Commerce configures it).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)

from ..errors import INPUT
from ..secret_names import names_secret
from . import messages

# Arguments the 2.4.9 introspection declares nullable although the operation cannot work without
# them; Commerce's documentation shows them as required, and a missing one gets graphql-php's
# "required argument" message: (parent type, field) -> (argument, type as shown).
REQUIRED_ARGUMENTS: Mapping[tuple[str, str], tuple[str, str]] = {
    ("Mutation", "exchangeExternalCustomerToken"): ("input", "ExchangeExternalCustomerTokenInput!"),
}


def required_argument_message(field: str, argument: str, type_str: str) -> str:
    return f'Field "{field}" argument "{argument}" of type "{type_str}" is required but not provided.'


@dataclass(frozen=True)
class Limits:
    """The bounds on a document (their defaults are the settings GRAPHQL_MAX_*'s)."""

    max_length: int  # characters of the document
    max_tokens: int  # lexical tokens of the document
    max_depth: int  # graphql-php QueryDepth; Commerce's storefront default is 20


@dataclass(frozen=True)
class Prepared:
    """A document ready to execute, or the errors that stop it (in Commerce's error shape)."""

    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...] = ()


class DocumentCache:
    """parse + limits + validate, memoised per document text (an LRU of `size` documents)."""

    def __init__(self, schema: GraphQLSchema, limits: Limits, size: int = 256) -> None:
        self.schema = schema
        self.limits = limits
        self._rules = [*specified_rules, RequiredArgumentsRule, OneExchangePerRequestRule]
        self.prepare = functools.lru_cache(maxsize=size)(self._prepare)

    def cache_info(self) -> Any:
        return self.prepare.cache_info()

    def too_long(self, text: str) -> dict[str, Any] | None:
        """Checked before the cache: an oversized text is never hashed or stored."""
        if len(text) > self.limits.max_length:
            return messages.error(
                f"The query document is too long: the limit is {self.limits.max_length} characters.", INPUT
            )
        return None

    def _prepare(self, text: str) -> Prepared:
        try:
            document = parse(text, max_tokens=self.limits.max_tokens)
        except GraphQLError as syntax_error:
            return Prepared(None, (messages.input_error(syntax_error),))
        depth_errors = [messages.input_error(e) for e in depth_errors_of(document, self.limits.max_depth)]
        if depth_errors:
            return Prepared(None, tuple(depth_errors))
        errors = validate(self.schema, document, self._rules)
        if errors:
            spans = _secret_spans(document)
            return Prepared(None, tuple(messages.input_error(_without_secret(e, spans)) for e in errors))
        return Prepared(document)


def _secret_spans(document: DocumentNode) -> list[tuple[int, int]]:
    """Where the document spells a secret's value: an input field's named like one, or the value of
    a custom attribute whose code is."""
    spans = []

    class Finder(Visitor):
        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
            if names_secret(node.name.value) and node.value.loc is not None:
                spans.append((node.value.loc.start, node.value.loc.end))

        def enter_object_value(self, node: ObjectValueNode, *_: Any) -> None:
            codes = [f.value.value for f in node.fields
                     if f.name.value == "attribute_code" and isinstance(f.value, StringValueNode)]
            if any(names_secret(code) for code in codes):
                spans.extend((f.value.loc.start, f.value.loc.end) for f in node.fields
                             if f.name.value != "attribute_code" and f.value.loc is not None)

    visit(document, Finder())
    return spans


def _without_secret(error: GraphQLError, spans: list[tuple[int, int]]) -> GraphQLError:
    """`error`, its value hidden when it is about a secret's (a shopper's password sent as no
    string literal is refused, never repeated)."""
    starts = [node.loc.start for node in error.nodes or () if node.loc is not None]
    if not any(start <= at < end for at in starts for start, end in spans):
        return error
    return GraphQLError(messages.without_value(error.message), error.nodes)


class RequiredArgumentsRule(ValidationRule):
    """A missing (or literal null) argument listed in REQUIRED_ARGUMENTS, worded as graphql-php words it."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.context.get_parent_type()
        required = REQUIRED_ARGUMENTS.get((getattr(parent, "name", ""), node.name.value))
        if required is None:
            return
        argument, type_str = required
        given = next((a for a in node.arguments or () if a.name.value == argument), None)
        if given is None or isinstance(given.value, NullValueNode):
            self.report_error(GraphQLError(required_argument_message(node.name.value, argument, type_str), node))


ONE_EXCHANGE = "Only one exchangeExternalCustomerToken can be sent per request."


class OneExchangePerRequestRule(ValidationRule):
    """An exchange authenticates the HTTP request, whose OAuth nonce is used once: a second exchange
    in the same operation (another alias) could only be refused as a replay after the first ran.
    The document is refused before anything runs, the second and later fields named."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation != OperationType.MUTATION:
            return
        by_key: dict[str, FieldNode] = {}  # fields of one response key run once (merged)
        for field in _root_fields(node.selection_set, self.context.get_fragment, set()):
            if field.name.value == "exchangeExternalCustomerToken":
                by_key.setdefault((field.alias or field.name).value, field)
        if len(by_key) > 1:
            self.report_error(GraphQLError(ONE_EXCHANGE, list(by_key.values())[1:]))


def _root_fields(selection_set: SelectionSetNode, fragment: Callable[[str], FragmentDefinitionNode | None],
                 seen: set[str]) -> Iterator[FieldNode]:
    """The fields an operation selects at its root, through inline fragments and spreads (each once)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragment, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            spread = fragment(selection.name.value)
            if spread is not None:
                yield from _root_fields(spread.selection_set, fragment, seen)


def depth_errors_of(document: DocumentNode, max_depth: int) -> list[GraphQLError]:
    """graphql-php's QueryDepth: `{ a { b } }` has depth 1 (nested selection sets below the root)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, int] = {}
    errors = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            depth = _depth(definition.selection_set, fragments, memo, set())
            if depth > max_depth:
                errors.append(GraphQLError(f"Max query depth should be {max_depth} but got {depth}.", definition))
    return errors


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    memo: dict[str, int],
    visiting: set[str],
) -> int:
    """Depth below `selection_set`; each fragment is measured once (linear however they fan out),
    and a fragment cycle (rejected later by validation) counts as nothing."""
    best = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            if selection.selection_set:
                best = max(best, 1 + _depth(selection.selection_set, fragments, memo, visiting))
        elif isinstance(selection, InlineFragmentNode):
            best = max(best, _depth(selection.selection_set, fragments, memo, visiting))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in memo:
                if name in visiting or name not in fragments:
                    continue
                visiting.add(name)
                memo[name] = _depth(fragments[name].selection_set, fragments, memo, visiting)
                visiting.discard(name)
            best = max(best, memo[name])
    return best
