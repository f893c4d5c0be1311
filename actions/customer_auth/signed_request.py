"""The HTTP request as the client signed it (RFC 5849 section 3.4.1 signs the method, the URL and the
form body): a plain value, so building one needs none of the OAuth machinery."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SignedRequest:
    """The URL is the one the client called, not the one we were reached at."""

    method: str
    url: str
    headers: Mapping[str, str]  # names lower-cased
    body: str = ""
