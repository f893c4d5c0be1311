"""social-login's settings, read from the action's parameters (the manifest's inputs), in
customer_auth.settings' style: a missing `$VAR` reaches the action as '', which means the default.
Every setting is documented in .env.example and docs/social-login.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from customer_auth.errors import ConfigurationError
from customer_auth.integrations import Integration
from customer_auth.settings import flag, integer, text

from .cache import CachePolicy
from .commerce import Commerce
from .providers import Provider, parse_providers, secure_url

if TYPE_CHECKING:
    from .id_token import VerificationPolicy

CREDENTIALS = {  # as Adobe's App Builder library (@adobe/aio-commerce-lib-auth) names them
    "consumer_key": "AIO_COMMERCE_AUTH_INTEGRATION_CONSUMER_KEY",
    "consumer_secret": "AIO_COMMERCE_AUTH_INTEGRATION_CONSUMER_SECRET",
    "access_token": "AIO_COMMERCE_AUTH_INTEGRATION_ACCESS_TOKEN",
    "access_token_secret": "AIO_COMMERCE_AUTH_INTEGRATION_ACCESS_TOKEN_SECRET",
}


def providers(params: Mapping[str, Any]) -> dict[str, Provider]:
    return parse_providers(text(params, "ID_PROVIDERS"))


def verification_policy(params: Mapping[str, Any]) -> VerificationPolicy:
    # Imported here: JOSE is verify-id-token's alone (the exchange, the emulator start faster without it).
    from .id_token import VerificationPolicy

    return VerificationPolicy(leeway=_seconds(params, "ID_TOKEN_LEEWAY", 60, most=600),
                              require_nonce=flag(params, "ID_TOKEN_REQUIRE_NONCE", False),
                              cache=cache_policy(params))


def cache_policy(params: Mapping[str, Any]) -> CachePolicy:
    policy = CachePolicy(min_seconds=_seconds(params, "JWKS_CACHE_MIN_SECONDS", 300),
                         max_seconds=_seconds(params, "JWKS_CACHE_MAX_SECONDS", 86_400),
                         refetch_seconds=_seconds(params, "JWKS_REFETCH_SECONDS", 60),
                         stale_seconds=_seconds(params, "JWKS_STALE_SECONDS", 21_600))
    if policy.min_seconds > policy.max_seconds:
        raise ConfigurationError("setting JWKS_CACHE_MIN_SECONDS must not be over JWKS_CACHE_MAX_SECONDS")
    return policy


def link_existing_accounts(params: Mapping[str, Any]) -> bool:
    return flag(params, "LINK_EXISTING_ACCOUNTS", True)


def commerce(params: Mapping[str, Any]) -> Commerce:
    url = text(params, "COMMERCE_GRAPHQL_URL")
    if not url:
        raise ConfigurationError("setting COMMERCE_GRAPHQL_URL is not set (the store's GraphQL endpoint, "
                                 "e.g. https://shop.example.com/graphql)")
    secure_url(url, "setting COMMERCE_GRAPHQL_URL")
    missing = [name for name in CREDENTIALS.values() if not text(params, name)]
    if missing:
        raise ConfigurationError(f"setting {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                                 "(the Commerce integration's OAuth 1.0a credentials)")
    return Commerce(url, Integration(name="commerce", **{key: text(params, name) for key, name in CREDENTIALS.items()}))


def _seconds(params: Mapping[str, Any], name: str, default: int, most: int | None = None) -> int:
    value = integer(params, name, default)
    if value < 0 or (most is not None and value > most):
        raise ConfigurationError(f"setting {name} must be a number of seconds from 0"
                                 f"{f' to {most}' if most is not None else ''}, got {value}")
    return value
