"""Store views and websites: the `Store` request header picks the store, the store gives the website.

Configured by `STORES` as `store_code:website_code` pairs (`default:base,fr:base,us:us`); ids are
numbered in order of appearance, like Commerce's install order (`default` store and `base` website
are id 1). `DEFAULT_STORE` is the store used when the header is absent.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import NoSuchEntityError

DEFAULT_STORES = "default:base"
STORE_NOT_FOUND = "Requested store is not found"


@dataclass(frozen=True)
class StoreView:
    code: str
    id: int
    website_code: str
    website_id: int


def parse_stores(spec: str) -> dict[str, StoreView]:
    """The store views `spec` declares; ValueError (what is accepted) for a malformed one."""
    views: dict[str, StoreView] = {}
    websites: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in (spec or DEFAULT_STORES).split(","))):
        code, sep, website = (piece.strip() for piece in entry.partition(":"))
        if not sep or not code or not website or code in views:
            raise ValueError("store_code:website_code pairs separated by commas, each store code once")
        website_id = websites.setdefault(website, len(websites) + 1)
        views[code] = StoreView(code, len(views) + 1, website, website_id)
    return views


def resolve(views: dict[str, StoreView], header: str | None, default_code: str) -> StoreView:
    code = (header or "").strip() or default_code or next(iter(views))
    view = views.get(code)
    if view is None:
        raise NoSuchEntityError(STORE_NOT_FOUND, reason=f"unknown store code {code!r}")
    return view
