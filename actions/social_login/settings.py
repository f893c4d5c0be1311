"""social-login's settings, defined in the one registry every action's settings live in
(customer_auth.settings): the emulator and scripts/deploy check them before they start, and
.env.example documents each (tests/library/test_settings.py keeps the two in step).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from customer_auth import values
from customer_auth.errors import ConfigurationError
from customer_auth.integrations import CREDENTIAL_KEYS, Integration
from customer_auth.settings import define, relation

from .cache import CachePolicy
from .commerce import Commerce
from .providers import Provider, parse_providers, secure_url

if TYPE_CHECKING:
    from .id_token import VerificationPolicy


def _commerce_url(value: Any) -> str:
    url = values.text(value)
    if url:
        try:
            secure_url(url, "setting COMMERCE_GRAPHQL_URL")
        except ConfigurationError:
            raise ValueError("an https URL of the store's GraphQL endpoint (http only on a loopback host)") from None
    return url


def _seconds(most: int | None = None) -> Any:
    return values.whole_number(0, most)


ID_PROVIDERS = define("ID_PROVIDERS", "", lambda value: parse_providers(values.text(value)),
                      "the identity providers a sign-in may name, as JSON (docs/social-login.md)")
ID_TOKEN_LEEWAY = define("ID_TOKEN_LEEWAY", "60", _seconds(600),
                         "seconds of clock difference allowed on an ID token's exp, iat and nbf")
ID_TOKEN_REQUIRE_NONCE = define("ID_TOKEN_REQUIRE_NONCE", "false", values.flag, "refuse ID tokens without a nonce")
JWKS_CACHE_MIN_SECONDS = define("JWKS_CACHE_MIN_SECONDS", "300", _seconds(),
                                "the least time a provider's key set is kept, whatever its Cache-Control")
JWKS_CACHE_MAX_SECONDS = define("JWKS_CACHE_MAX_SECONDS", "86400", _seconds(),
                                "the most time a provider's key set is kept, whatever its Cache-Control")
JWKS_REFETCH_SECONDS = define("JWKS_REFETCH_SECONDS", "60", _seconds(),
                              "the least time between two fetches of a key set for a kid it lacks")
JWKS_STALE_SECONDS = define("JWKS_STALE_SECONDS", "21600", _seconds(),
                            "how long a key set is served past its freshness while its provider is down")
LINK_EXISTING_ACCOUNTS = define("LINK_EXISTING_ACCOUNTS", "true", values.flag,
                                "link a first sign-in to an existing account with its email (else refuse it)")
COMMERCE_GRAPHQL_URL = define("COMMERCE_GRAPHQL_URL", "", _commerce_url,
                              "the GraphQL endpoint of the Commerce store sign-in exchanges at")
_CREDENTIAL_SETTINGS = {  # as Adobe's App Builder library (@adobe/aio-commerce-lib-auth) names them
    key: define(f"AIO_COMMERCE_AUTH_INTEGRATION_{key.upper()}", "", values.text,
                f"the Commerce integration's {key.replace('_', ' ')} (OAuth 1.0a)", secret=True)
    for key in CREDENTIAL_KEYS
}
CREDENTIALS = {key: setting.name for key, setting in _CREDENTIAL_SETTINGS.items()}  # credential -> setting name


@relation
def _cache_bounds_in_order(params: Mapping[str, Any]) -> str | None:
    if JWKS_CACHE_MIN_SECONDS.read(params) > JWKS_CACHE_MAX_SECONDS.read(params):
        return "setting JWKS_CACHE_MIN_SECONDS must not be over JWKS_CACHE_MAX_SECONDS"
    return None


def providers(params: Mapping[str, Any]) -> dict[str, Provider]:
    return ID_PROVIDERS.read(params)


def verification_policy(params: Mapping[str, Any]) -> VerificationPolicy:
    # Imported here: JOSE is verify-id-token's alone (the exchange, the emulator start faster without it).
    from .id_token import VerificationPolicy

    return VerificationPolicy(leeway=ID_TOKEN_LEEWAY.read(params), require_nonce=ID_TOKEN_REQUIRE_NONCE.read(params),
                              cache=cache_policy(params))


def cache_policy(params: Mapping[str, Any]) -> CachePolicy:
    bounds = _cache_bounds_in_order(params)
    if bounds:
        raise ConfigurationError(bounds)
    return CachePolicy(min_seconds=JWKS_CACHE_MIN_SECONDS.read(params), max_seconds=JWKS_CACHE_MAX_SECONDS.read(params),
                       refetch_seconds=JWKS_REFETCH_SECONDS.read(params), stale_seconds=JWKS_STALE_SECONDS.read(params))


def link_existing_accounts(params: Mapping[str, Any]) -> bool:
    return LINK_EXISTING_ACCOUNTS.read(params)


def commerce(params: Mapping[str, Any]) -> Commerce:
    """The store to exchange at; unset, a ConfigurationError saying what a deployment must set (the
    emulator fills these in itself)."""
    url = COMMERCE_GRAPHQL_URL.read(params)
    if not url:
        raise ConfigurationError("setting COMMERCE_GRAPHQL_URL is not set (the store's GraphQL endpoint, "
                                 "e.g. https://shop.example.com/graphql)")
    credentials = {key: setting.read(params) for key, setting in _CREDENTIAL_SETTINGS.items()}
    missing = [CREDENTIALS[key] for key, value in credentials.items() if not value]
    if missing:
        raise ConfigurationError(f"setting {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                                 "(the Commerce integration's OAuth 1.0a credentials)")
    return Commerce(url, Integration(name="commerce", **credentials))
