"""graphql: Commerce's GraphQL endpoint as a raw web action, the same facade as the emulator's /graphql.

It invokes the exchange sequence through OpenWhisk's REST API, so every step keeps its own activation,
locally and deployed. The facade (and its parsed-document cache) lives as long as the warm container.
"""
import os

from customer_auth.graphql import GraphQLFacade
from customer_auth.openwhisk import rest_invoker
from customer_auth.web import configure_logging, headers_of, raw_body

_facades: dict[tuple, GraphQLFacade] = {}


def main(params: dict) -> dict:
    configure_logging(params)
    settings = {k: v for k, v in params.items() if not k.startswith("__ow_")}
    key = tuple(sorted((k, str(v)) for k, v in settings.items()))
    facade = _facades.get(key) or _facades.setdefault(key, GraphQLFacade(settings, rest_invoker()))
    headers = headers_of(params)
    path = headers.get("x-forwarded-uri", "").partition("?")[0] or (
        f"/api/v1/web/{os.environ.get('__OW_NAMESPACE', '_')}/customer-auth/graphql{params.get('__ow_path', '')}")
    status, answer_headers, body = facade.handle(
        str(params.get("__ow_method", "get")).upper(),
        path,
        str(params.get("__ow_query") or ""),
        headers,
        raw_body(params, headers).encode(),
    )
    return {"statusCode": status, "headers": answer_headers, "body": body.decode()}
