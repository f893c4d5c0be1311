"""The storefront GraphQL endpoint (Commerce's customer-auth slice), framework-free.

    facade = GraphQLFacade(settings, invoke)        # invoke(fqn, params) -> activation result
    status, headers, body = facade.handle(method, path, query_string, headers, body_bytes)

Used by the emulator's `/graphql` route and deployable as a `graphql` web action.
"""
from .facade import GraphQLFacade, load_schema
from .resolvers import EXCHANGE_SEQUENCE, VERIFY_OAUTH, Request

__all__ = ["EXCHANGE_SEQUENCE", "VERIFY_OAUTH", "GraphQLFacade", "Request", "load_schema"]
