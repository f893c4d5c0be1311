"""How a configured value reads: the parsers settings (and a store URL's parameters) are read with.

Each takes what an action gets as a parameter (text from `.env`, or a YAML / JSON scalar from the
manifest) and returns the value, or raises ValueError whose message says what is accepted ("true or
false"): the caller names the setting and words the error. No setting names and no I/O here, so the
store can use them without knowing of settings.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def text(value: Any) -> str:
    return str(value).strip()


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("true or false")


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Callable[[Any], int]:
    """A parser of integers, at least `minimum` and at most `maximum` when they are given."""
    accepted = ("a whole number" if minimum is None else f"a whole number of {minimum} or more"
                if maximum is None else f"a whole number from {minimum or 0} to {maximum}")

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(accepted)
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(accepted) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise ValueError(accepted)
        return number

    return parse


def one_of(*choices: str) -> Callable[[Any], str]:
    """A parser of one word among `choices`, in any case; returns the choice as written here."""
    by_word = {choice.lower(): choice for choice in choices}
    accepted = f"one of {', '.join(choices)}"

    def parse(value: Any) -> str:
        try:
            return by_word[str(value).strip().lower()]
        except KeyError:
            raise ValueError(accepted) from None

    return parse


def base_url(value: Any) -> str:
    """`scheme://host[:port][/prefix]`, http or https, no query or fragment; without a trailing slash
    ('' for none)."""
    url = str(value).strip().rstrip("/")
    if not url:
        return ""
    accepted = "an http(s)://host[/prefix] URL without query or fragment"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is no number raises ValueError here
    except ValueError:
        raise ValueError(accepted) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(accepted)
    return url
