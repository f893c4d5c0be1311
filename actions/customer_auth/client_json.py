"""JSON from a client, read strictly: what could not be handled on is refused where it arrives.

Python's json module accepts an unpaired UTF-16 surrogate escape (`"\\ud800"`), which no UTF-8
encoder writes again (a worker's result, the answer, PostgreSQL), and nesting as deep as the stack
allows, past which it and every later step raise RecursionError. PHP's json_decode, which Commerce
reads requests with, refuses both (512 levels by default); so does `loads`, with ValueError as for
any other malformed JSON. Social login reads what a provider or Commerce answers over HTTP with it
too: a document nested past the stack is a provider or Commerce that cannot be used, not a crash.
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 512  # json_decode's default depth
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def loads(text: str) -> Any:
    """`json.loads(text)`; ValueError also for an unpaired surrogate or nesting past MAX_DEPTH."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    value = json.loads(text)
    if _SURROGATE_ESCAPE.search(text):  # rare: only then is the value checked
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("JSON with an unpaired UTF-16 surrogate") from None
    return value


def _depth(text: str) -> int:
    """How deep the brackets outside strings nest (scanned only for texts with many brackets)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
