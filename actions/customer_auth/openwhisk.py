"""OpenWhisk's REST API from inside an action: a blocking invoke of another action or sequence.

The runtime gives an action annotated `provide-api-key` its API host and key as `__OW_API_HOST` and
`__OW_API_KEY`. Only the standard library is used, so the action's zip needs nothing more.
"""
from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

Invoke = Callable[[str, dict[str, Any]], Any]
INVOKE_TIMEOUT_SECONDS = 65  # OpenWhisk answers a blocking invoke within 60 s


class TooManyRequests(Exception):
    """OpenWhisk took no activation: it answered 429 (the action's queue was full, or the activation
    waited its time limit). Nothing ran; the caller may try again later."""


def rest_invoker(environ: Mapping[str, str] = os.environ) -> Invoke:
    """invoke(fqn, params) -> the activation's result, through `POST .../actions/<fqn>?blocking&result`;
    raises TooManyRequests when OpenWhisk answers 429."""
    api_host = environ.get("__OW_API_HOST", "").rstrip("/")
    namespace = environ.get("__OW_NAMESPACE", "_")
    credentials = base64.b64encode(environ.get("__OW_API_KEY", "").encode()).decode()
    if not api_host:
        raise RuntimeError("__OW_API_HOST is not set: annotate the action with provide-api-key: true")

    def invoke(fqn: str, params: dict[str, Any]) -> Any:
        import urllib.error  # imported on first use: urllib.request and http.client cost ~25 ms to import
        import urllib.request

        url = f"{api_host}/api/v1/namespaces/{namespace}/actions/{fqn}?blocking=true&result=true"
        request = urllib.request.Request(
            url,
            data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:  # an application or developer error still has a result
            with error:
                if error.code == 429:
                    raise TooManyRequests(f"{fqn}: HTTP 429 {error.read()[:200]!r}") from None
                return json.load(error)

    return invoke
