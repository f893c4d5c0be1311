"""The identity providers a sign-in may name: the setting `ID_PROVIDERS`, a JSON object of name ->
configuration, read once per value.

`google`, `apple`, `microsoft` and `facebook` (Limited Login) are presets that need only `client_ids`
(Microsoft also its tenants). Any other name is an OpenID provider found through OpenID Connect
Discovery at `<issuer>/.well-known/openid-configuration`, unless it names its `jwks_uri` (then
`algorithms`, default RS256, says how its ID tokens are signed). Every URL is https, except on a
loopback host (a provider on this machine, for development and tests).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from customer_auth.errors import ConfigurationError
from customer_auth.loopback import is_loopback

# Signature algorithms with a public key (RFC 7518, RFC 8037, RFC 9864). Never `none`, never HMAC: an
# HMAC "signature" checked with a public key is a forgery anyone holding the JWKS can make.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
              "Ed448")
DEFAULT_ALGORITHMS = ("RS256",)  # OpenID Connect Core's default for id_token_signed_response_alg

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_CONSUMERS = "9188040d-6c67-4c5b-b112-36a304b66dad"  # the tenant of personal Microsoft accounts
_MICROSOFT_ISSUER = re.compile(re.escape(MICROSOFT_LOGIN) + r"/([0-9a-f-]{36})/v2\.0")
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Provider:
    """What verifying a provider's ID tokens takes. `issuers` are the exact `iss` values accepted (the
    first is the canonical one, which account links are keyed by; for Entra ID each tenant's issuer is
    its own); the signing keys come from `jwks_uri`, or from the discovery document at `discovery_url`
    (which also names the algorithms)."""

    name: str
    issuers: tuple[str, ...]
    client_ids: tuple[str, ...]
    jwks_uri: str = ""
    discovery_url: str = ""
    algorithms: tuple[str, ...] = ()
    microsoft: bool = False  # `iss` carries the tenant (`tid`): an unlisted one is its own refusal
    assume_email_verified: bool = False  # the provider sends no email_verified, and only verified emails

    @property
    def issuer(self) -> str:
        return self.issuers[0]


def _google(config: dict[str, Any]) -> dict[str, Any]:
    # Google's ID tokens carry either spelling of its issuer (its OpenID Connect documentation).
    return {"issuers": ("https://accounts.google.com", "accounts.google.com"),
            "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs", "algorithms": ("RS256",)}


def _apple(config: dict[str, Any]) -> dict[str, Any]:
    return {"issuers": ("https://appleid.apple.com",), "jwks_uri": "https://appleid.apple.com/auth/keys",
            "algorithms": ("RS256",)}


def _facebook(config: dict[str, Any]) -> dict[str, Any]:
    # Limited Login: its discovery document is not at <issuer>/.well-known, and Facebook's documentation
    # names no issuer; verifiers in use expect either spelling, and the document must name one of them.
    return {"issuers": ("https://www.facebook.com", "https://facebook.com"),
            "discovery_url": "https://limited.facebook.com/.well-known/openid-configuration/"}


def _microsoft(config: dict[str, Any]) -> dict[str, Any]:
    """Entra ID: a token's issuer names its tenant (`https://login.microsoftonline.com/{tid}/v2.0`), even
    from the /common endpoint, so the tenants allowed are named: one `tenant`, or a `tenants` list.
    Any tenant at all would let every Entra ID tenant's admin vouch for any email."""
    tenant = str(config.get("tenant") or "").strip().lower()
    listed = config.get("tenants")
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(t, str) for t in listed)):
        raise _invalid("microsoft: tenants must be a list of tenant ids")
    tenants = [t.strip().lower() for t in listed or []]
    if tenant == "consumers":
        tenant = MICROSOFT_CONSUMERS
    if tenant in ("common", "organizations", ""):
        if not tenants:
            raise _invalid("microsoft needs the tenants it accepts: \"tenant\": \"<tenant id>\" or "
                           "\"tenants\": [\"<tenant id>\", ...] (tokens of any tenant could claim any email)")
    elif tenants and tenant not in tenants:
        raise _invalid(f"microsoft: tenant {tenant} is not among its tenants")
    else:
        tenants = tenants or [tenant]
    bad = [t for t in tenants if not _TENANT_ID.fullmatch(t)]
    if bad:
        raise _invalid(f"microsoft: {', '.join(bad)} is not a tenant id (a GUID, as Entra ID shows it)")
    keys_tenant = tenants[0] if len(tenants) == 1 else "common"
    return {"issuers": tuple(f"{MICROSOFT_LOGIN}/{t}/v2.0" for t in tenants),
            "jwks_uri": f"{MICROSOFT_LOGIN}/{keys_tenant}/discovery/v2.0/keys", "algorithms": ("RS256",),
            "microsoft": True}


PRESETS = {"google": _google, "apple": _apple, "microsoft": _microsoft, "facebook": _facebook}
PRESET_KEYS = {"google": {"client_ids"}, "apple": {"client_ids"}, "microsoft": {"client_ids", "tenant", "tenants"},
               "facebook": {"client_ids", "assume_email_verified"}}
DISCOVERED_KEYS = {"issuer", "client_ids", "jwks_uri", "algorithms", "assume_email_verified"}


@lru_cache(maxsize=8)
def parse_providers(value: str) -> dict[str, Provider]:
    """`ID_PROVIDERS` as Providers by name; a ConfigurationError naming the setting and the problem."""
    if not value.strip():
        return {}
    try:
        raw = json.loads(value)
    except ValueError as error:
        raise _invalid(f"not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise _invalid("must be a JSON object of provider name -> its configuration")
    return {name: _provider(name, config) for name, config in raw.items()}


def _provider(name: str, config: Any) -> Provider:
    if not _NAME.fullmatch(name):
        raise _invalid(f"{name!r} is not a provider name (lower-case letters, digits, '.', '_', '-')")
    if not isinstance(config, dict):
        raise _invalid(f"{name}: its configuration must be a JSON object")
    allowed = PRESET_KEYS.get(name, DISCOVERED_KEYS)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise _invalid(f"{name}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                       f"(it takes {', '.join(sorted(allowed))})")
    fields: dict[str, Any] = PRESETS[name](config) if name in PRESETS else _discovered(name, config)
    fields["client_ids"] = _client_ids(name, config.get("client_ids"))
    if "assume_email_verified" in config:
        if not isinstance(config["assume_email_verified"], bool):
            raise _invalid(f"{name}: assume_email_verified must be true or false")
        fields["assume_email_verified"] = config["assume_email_verified"]
    found = Provider(name=name, **fields)
    for url in (*[i for i in found.issuers if "://" in i], found.jwks_uri, found.discovery_url):
        if url:
            secure_url(url, f"setting ID_PROVIDERS: {name}")
    return found


def _discovered(name: str, config: dict[str, Any]) -> dict[str, Any]:
    issuer = config.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip():
        raise _invalid(f"{name}: needs its \"issuer\" (the exact `iss` of its ID tokens), or use a preset: "
                       f"{', '.join(PRESETS)}")
    issuer = issuer.strip()
    jwks_uri = config.get("jwks_uri") or ""
    if not isinstance(jwks_uri, str):
        raise _invalid(f"{name}: jwks_uri must be a URL")
    algorithms = config.get("algorithms")
    if algorithms is not None:
        if not isinstance(algorithms, list) or not algorithms or not all(isinstance(a, str) for a in algorithms):
            raise _invalid(f"{name}: algorithms must be a non-empty list such as [\"RS256\"]")
        refused = [a for a in algorithms if a not in ASYMMETRIC]
        if refused:
            raise _invalid(f"{name}: algorithms {', '.join(refused)} refused; one of {', '.join(ASYMMETRIC)}")
    if jwks_uri:  # the keys are named: no discovery, the algorithms given or OpenID Connect's default
        return {"issuers": (issuer,), "jwks_uri": jwks_uri.strip(), "algorithms": tuple(algorithms or DEFAULT_ALGORITHMS)}
    return {"issuers": (issuer,), "discovery_url": well_known_configuration(issuer),
            "algorithms": tuple(algorithms or ())}


def well_known_configuration(issuer: str) -> str:
    """Where OpenID Connect Discovery 1.0 (section 4) puts an issuer's metadata."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _client_ids(name: str, value: Any) -> tuple[str, ...]:
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise _invalid(f"{name}: client_ids must name the client ids its ID tokens are issued to "
                       "(a list of strings)")
    return tuple(i.strip() for i in ids)


def microsoft_tenant(iss: str) -> str | None:
    """The tenant id an Entra ID issuer names, or None when `iss` is no Entra ID issuer."""
    match = _MICROSOFT_ISSUER.fullmatch(iss)
    return match.group(1) if match else None


def secure_url(url: str, what: str) -> str:
    """`url` if it is https, or http on a loopback host; ConfigurationError (naming `what`) otherwise."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ConfigurationError(f"{what}: {url!r} is not a URL") from None
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    raise ConfigurationError(f"{what}: {url} must be https (http only on a loopback host, for a local provider)")


def _invalid(problem: str) -> ConfigurationError:
    return ConfigurationError(f"setting ID_PROVIDERS: {problem}")
