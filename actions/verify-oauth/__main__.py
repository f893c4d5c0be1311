"""verify-oauth: authenticates the caller as a Commerce integration (OAuth 1.0a, RFC 5849).

The first component of the raw web sequence: it reads the HTTP request as the client signed it and
passes on only what the next actions need, so nothing a caller sends can shadow their settings. Each
component's result is kept as an activation record, so the input goes on sealed
(`exchange_input.seal`): the shopper's password as its hash (or why it is too weak), fields the input
does not define and custom attributes Commerce would not keep by their names alone.
"""
import os
import time

from customer_auth import exchange_input, settings
from customer_auth.errors import AuthorizationError, RateLimitError
from customer_auth.oauth1 import OAuthError, RateLimited, authenticate
from customer_auth.store import open_store
from customer_auth.web import json_body, log, signed_request, web_action


@web_action
def main(params: dict) -> dict:
    request = signed_request(
        params,
        namespace=os.environ.get("__OW_NAMESPACE", "guest"),
        public_base_url=settings.PUBLIC_BASE_URL.read(params),
        sequence_path=settings.WEB_SEQUENCE_PATH.read(params),
    )
    store = open_store(settings.STORE_URL.read(params))
    attribute_codes = settings.CUSTOMER_CUSTOM_ATTRIBUTES.read(params)  # a bad setting fails before the nonce is used
    try:
        integration = authenticate(request, store, settings.oauth_policy(params), now=int(time.time()))
    except OAuthError as refusal:
        named = refusal.integration and {"id": refusal.integration.id, "name": refusal.integration.name}
        reason = f"{refusal} ({request.method} {request.url.split('?')[0]})"
        if isinstance(refusal, RateLimited):
            raise RateLimitError(reason, named, refusal.retry_after) from None
        raise AuthorizationError(reason, named) from None
    log.info("integration %s (%s) authenticated", integration.id, integration.name)
    sealed, password_seal = exchange_input.seal(json_body(request), attribute_codes)
    return {
        "input": sealed,
        "password_seal": password_seal,
        "store_code": request.headers.get("store", ""),
        "integration": {"id": integration.id, "name": integration.name},
    }
