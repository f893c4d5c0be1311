"""verify-oauth: authenticates the caller as a Commerce integration (OAuth 1.0a, RFC 5849).

The first component of the raw web sequence: it reads the HTTP request as the client signed it and
passes on only what the next actions need, so nothing a caller sends can shadow their settings, and
the shopper's password only sealed (its hash, or why it is too weak): each component's result is kept
as an activation record.
"""
import os
import time

from customer_auth import passwords, settings
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
    try:
        integration = authenticate(request, store, settings.oauth_policy(params), now=int(time.time()))
    except OAuthError as refusal:
        named = refusal.integration and {"id": refusal.integration.id, "name": refusal.integration.name}
        reason = f"{refusal} ({request.method} {request.url.split('?')[0]})"
        if isinstance(refusal, RateLimited):
            raise RateLimitError(reason, named, refusal.retry_after) from None
        raise AuthorizationError(reason, named) from None
    log.info("integration %s (%s) authenticated", integration.id, integration.name)
    exchange_input, password_seal = passwords.seal_input(json_body(request))
    return {
        "input": exchange_input,
        "password_seal": password_seal,
        "store_code": request.headers.get("store", ""),
        "integration": {"id": integration.id, "name": integration.name},
    }
