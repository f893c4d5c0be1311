"""verify-oauth seals the exchange input without graphql-core (it would slow its cold start), from
its own copy of the input types: the copy must say what schema.graphql says."""
from graphql import GraphQLInputObjectType, build_schema

from customer_auth.exchange_input import INPUT_TYPES
from customer_auth.graphql.facade import SCHEMA_PATH


def test_the_sealed_input_types_are_the_schemas():
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    for name, fields in INPUT_TYPES.items():
        declared = schema.type_map[name]
        assert isinstance(declared, GraphQLInputObjectType), name
        assert {field: str(spec.type) for field, spec in declared.fields.items()} == fields, name
