"""OpenWhisk's API key (`uuid:key`) as HTTP basic authentication: what the REST API requires, and
what makes a web request an authenticated one (`require-whisk-auth: true`, `__ow_user`)."""
from __future__ import annotations

import base64
import binascii
import hmac


def key_matches(header: str | None, key: str) -> bool | None:
    """None: no basic credentials; else whether `user:password` equals `key` (constant time)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, key.encode("utf-8"))
