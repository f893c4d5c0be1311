"""The console's exchange: a real signed GraphQL request to the emulator's own `/graphql`.

The request is signed here, server-side, with the integration's credentials from the store
(customer_auth.oauth1.authorization_header, HMAC-SHA256, exactly as scripts/exchange signs), then sent
in-process through Flask's test client, so it takes the same way as any client's request: the
GraphQL facade, the web sequence, verify-oauth checking the signature. What comes back for the page:
the request (its Authorization header with the consumer key and access token masked), the answer,
and the activation records of that call, read by the id the `/graphql` response names.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from customer_auth.integrations import Integration, mask
from customer_auth.oauth1 import SignedRequest, authorization_header, parse_authorization
from emulator.activations import ACTIVATION_HEADER, Activation, ActivationStore

MUTATION = """mutation Exchange($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) {
    customer { email firstname lastname is_subscribed }
    token
  }
}"""
MASKED_OAUTH_PARAMETERS = ("oauth_consumer_key", "oauth_token")
_CALLED = re.compile(ACTIVATION_HEADER + r": ([0-9a-f]{32}(?:, [0-9a-f]{32})*)")


def signed_url(base_url: str, settings: Mapping[str, Any] | None) -> str:
    """The URL the client signs: verify-oauth rebuilds it from PUBLIC_BASE_URL when that is set."""
    public = str((settings or {}).get("PUBLIC_BASE_URL") or "").rstrip("/")
    return (public or base_url.rstrip("/")) + "/graphql"


def exchange(app: Flask, integration: Integration, customer: Mapping[str, Any], *, base_url: str,
             settings: Mapping[str, Any] | None, store_code: str = "",
             clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """POST the signed exchange mutation to `app`'s `/graphql` as if from `base_url`; the page's view of it."""
    body = json.dumps({"query": MUTATION, "variables": {"input": {"customer": dict(customer)}}})
    url = signed_url(base_url, settings)
    signed = SignedRequest(method="POST", url=url, headers={"content-type": "application/json"}, body=body)
    headers = {
        "Content-Type": "application/json",
        "Authorization": authorization_header(signed, integration, int(clock()), secrets.token_hex(16)),
    }
    if store_code:
        headers["Store"] = store_code
    started = int(clock() * 1000)
    response = app.test_client().post("/graphql", data=body, headers=headers, base_url=base_url.rstrip("/"))
    try:
        answer: Any = json.loads(response.get_data(as_text=True))
    except ValueError:
        answer = response.get_data(as_text=True)
    ids = [i.strip() for i in response.headers.get(ACTIVATION_HEADER, "").split(",") if i.strip()]
    return {
        "request": {"method": "POST", "url": url, "headers": {**headers, "Authorization": masked(headers["Authorization"])},
                    "body": json.loads(body)},
        "response": {"status": response.status_code, "headers": dict(response.headers), "body": answer},
        "integration": integration.summary(),
        "activationIds": ids,
        "started": started,
    }


def masked(authorization: str) -> str:
    """The OAuth header as shown: consumer key and access token masked; nonce, timestamp, signature kept."""
    params = parse_authorization(authorization.partition(" ")[2])
    shown = {k: (mask(v) if k in MASKED_OAUTH_PARAMETERS else v) for k, v in params.items()}
    return "OAuth " + ", ".join(f'{k}="{v}"' for k, v in shown.items())


def timeline(activations: ActivationStore, activation_id: str, seen: set[str] | None = None) -> list[Activation]:
    """An activation and, for a sequence, its components (its record lists their ids as logs), in order;
    after an action that called this emulator's `/graphql`, the activations that call ran (the action
    logs the `x-openwhisk-activation-id` it was answered with, as social-login's exchange does)."""
    seen = set() if seen is None else seen
    top = None if activation_id in seen else activations.get(activation_id)
    if top is None:
        return []
    seen.add(activation_id)
    out = [top]
    if top.annotation("kind") == "sequence":
        called = list(top.logs)  # a component pushed out of the bounded store is left out
    else:
        called = [i for line in top.logs for ids in _CALLED.findall(line) for i in ids.split(", ")]
    for component_id in called:
        out.extend(timeline(activations, component_id, seen))
    return out
