"""Settings, read from the action's parameters (the manifest's inputs).

A missing `$VAR` in app.config.yaml reaches the action as '', which means "use the default".
Every setting is documented in .env.example.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import custom_attributes
from .customers import AccountPolicy
from .errors import ConfigurationError
from .integrations import EXCHANGE_RESOURCE
from .store.base import RateLimit
from .stores import StoreView, parse_stores, resolve
from .tokens import ALGORITHMS, DEFAULT_LIFETIME_MINUTES, TokenPolicy, signing_key

if TYPE_CHECKING:
    from .oauth1 import OAuthPolicy

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    return None if value is None or value == "" else value


def flag(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = _raw(params, name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"setting {name} must be true or false, got {value!r}")


def integer(params: Mapping[str, Any], name: str, default: int) -> int:
    value = _raw(params, name)
    if value is None:
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigurationError(f"setting {name} must be an integer, got {value!r}") from None


def text(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = _raw(params, name)
    return default if value is None else str(value).strip()


def store_url(params: Mapping[str, Any]) -> str:
    url = text(params, "STORE_URL")
    if not url:
        raise ConfigurationError("setting STORE_URL is not set")
    return url


def store_view(params: Mapping[str, Any], code: str | None) -> StoreView:
    """The store view a `Store` code names among STORES, or DEFAULT_STORE's when none is given."""
    return resolve(parse_stores(text(params, "STORES")), code, text(params, "DEFAULT_STORE", "default"))


def required_resource(params: Mapping[str, Any]) -> str:
    """The ACL resource an integration needs to exchange (empty: none)."""
    return text(params, "OAUTH_REQUIRED_RESOURCE", EXCHANGE_RESOURCE)


def oauth_policy(params: Mapping[str, Any]) -> OAuthPolicy:
    # Imported here: the OAuth module (and authlib's URL helpers) is verify-oauth's alone (the others start faster).
    from .oauth1 import HMAC_SHA1, HMAC_SHA256, OAuthPolicy

    methods = {HMAC_SHA256, HMAC_SHA1} if flag(params, "OAUTH_ALLOW_HMAC_SHA1", False) else {HMAC_SHA256}
    window = integer(params, "OAUTH_TIMESTAMP_WINDOW", 600)
    if window <= 0:
        raise ConfigurationError("setting OAUTH_TIMESTAMP_WINDOW must be a positive number of seconds")
    return OAuthPolicy(
        signature_methods=frozenset(methods),
        timestamp_window=window,
        bearer_enabled=flag(params, "OAUTH_BEARER_ENABLED", False),
        required_resource=required_resource(params),
        rate_limit=rate_limit(params),
    )


def rate_limit(params: Mapping[str, Any]) -> RateLimit | None:
    """Per integration, in the spirit of OpenWhisk's 600 invocations a minute; 0 turns it off."""
    per_minute = integer(params, "RATE_LIMIT_PER_MINUTE", 600)
    burst = integer(params, "RATE_LIMIT_BURST", 100)
    if per_minute < 0 or burst < 1:
        raise ConfigurationError("settings RATE_LIMIT_PER_MINUTE must be >= 0 and RATE_LIMIT_BURST >= 1")
    return RateLimit(per_minute, burst) if per_minute else None


def custom_attribute_codes(params: Mapping[str, Any]) -> frozenset[str]:
    """The customer attributes a merchant added in Commerce (CUSTOMER_CUSTOM_ATTRIBUTES, comma
    separated; default none): the only custom attributes kept (custom_attributes.py)."""
    codes = frozenset(code.strip() for code in text(params, "CUSTOMER_CUSTOM_ATTRIBUTES").split(",") if code.strip())
    for code in sorted(codes):
        why = custom_attributes.refusal(code)
        if why:
            raise ConfigurationError(f"setting CUSTOMER_CUSTOM_ATTRIBUTES lists {code!r}, which {why}")
    return codes


def account_policy(params: Mapping[str, Any]) -> AccountPolicy:
    return AccountPolicy(
        create_missing=flag(params, "CUSTOMER_CREATE_MISSING", True),
        update_existing=flag(params, "CUSTOMER_UPDATE_EXISTING", False),
        newsletter_enabled=flag(params, "NEWSLETTER_ENABLED", True),
    )


def token_policy(params: Mapping[str, Any]) -> TokenPolicy:
    crypt_key = text(params, "CRYPT_KEY")
    if not crypt_key:
        raise ConfigurationError("setting CRYPT_KEY is not set")
    algorithm = text(params, "JWT_ALG", "HS256").upper()
    if algorithm not in ALGORITHMS:
        raise ConfigurationError(f"setting JWT_ALG must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    return TokenPolicy(
        key=signing_key(crypt_key),
        algorithm=algorithm,
        lifetime_minutes=integer(params, "CUSTOMER_TOKEN_LIFETIME", DEFAULT_LIFETIME_MINUTES),
    )
