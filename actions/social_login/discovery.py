"""OpenID Connect Discovery 1.0: a provider's metadata, or what its configuration fixes instead.

Only what verifying an ID token needs: the issuer, `jwks_uri` and the ID token signing algorithms. The
document must name the very issuer it was asked for (Discovery, section 4.3), its `jwks_uri` must be
https, and of its algorithms only the asymmetric ones are taken: a provider that offers `none` or HMAC
for ID tokens still never gets them accepted here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from customer_auth.errors import ConfigurationError

from .cache import CachePolicy, DocumentCache
from .providers import ASYMMETRIC, Provider, secure_url
from .refusals import ProviderUnavailable


@dataclass(frozen=True)
class Metadata:
    issuers: tuple[str, ...]  # the exact `iss` values accepted, the canonical one first
    jwks_uri: str
    algorithms: tuple[str, ...]


def metadata(provider: Provider, documents: DocumentCache, policy: CachePolicy) -> Metadata:
    """The provider's metadata: from its configuration when that names its keys, else discovered."""
    if provider.jwks_uri:
        return Metadata(provider.issuers, provider.jwks_uri, provider.algorithms)
    return documents.get(provider.discovery_url, lambda document: _read(provider, document), policy)


def _read(provider: Provider, document: dict[str, Any]) -> Metadata:
    url = provider.discovery_url
    issuer = document.get("issuer")
    if issuer not in provider.issuers:
        raise ProviderUnavailable(f"{url} names the issuer {str(issuer)[:200]!r}, not {provider.issuer!r} "
                                  "(OpenID Connect Discovery 4.3: they must be identical)")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise ProviderUnavailable(f"{url} names no jwks_uri")
    try:
        secure_url(jwks_uri, f"{url}: jwks_uri")
    except ConfigurationError as error:
        raise ProviderUnavailable(error.reason) from None
    published = document.get("id_token_signing_alg_values_supported")
    published = [a for a in published if isinstance(a, str)] if isinstance(published, list) else ["RS256"]
    algorithms = tuple(a for a in provider.algorithms or published if a in ASYMMETRIC and a in published)
    if not algorithms:
        raise ProviderUnavailable(f"{url} publishes no ID token signing algorithm accepted here "
                                  f"({', '.join(published) or 'none'}; accepted: {', '.join(ASYMMETRIC)})")
    return Metadata(provider.issuers, jwks_uri, algorithms)
