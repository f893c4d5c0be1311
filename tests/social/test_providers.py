"""ID_PROVIDERS: presets, discovered providers, and every configuration that cannot work refused with
the setting's name and the problem."""
from __future__ import annotations

import json

import pytest

from customer_auth.errors import ConfigurationError
from social_login.providers import MICROSOFT_CONSUMERS, parse_providers

TENANT = "11111111-2222-3333-4444-555555555555"


def parsed(value: dict) -> dict:
    return parse_providers(json.dumps(value))


def test_presets_need_only_their_client_ids():
    providers = parsed({"google": {"client_ids": ["g"]}, "apple": {"client_ids": "com.example.web"},
                        "facebook": {"client_ids": ["1234"]}, "microsoft": {"client_ids": ["m"], "tenant": TENANT}})
    assert providers["google"].issuers == ("https://accounts.google.com", "accounts.google.com")
    assert providers["google"].jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    assert providers["apple"].client_ids == ("com.example.web",)
    assert providers["facebook"].discovery_url == "https://limited.facebook.com/.well-known/openid-configuration/"
    assert providers["facebook"].issuers == ("https://www.facebook.com", "https://facebook.com")
    assert providers["microsoft"].issuers == (f"https://login.microsoftonline.com/{TENANT}/v2.0",)
    assert providers["microsoft"].jwks_uri == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"


def test_microsoft_tenant_forms():
    other = "99999999-8888-7777-6666-555555555555"
    listed = parsed({"microsoft": {"client_ids": ["m"], "tenant": "common", "tenants": [TENANT, other]}})["microsoft"]
    assert len(listed.issuers) == 2 and listed.jwks_uri.endswith("/common/discovery/v2.0/keys")
    consumers = parsed({"microsoft": {"client_ids": ["m"], "tenant": "consumers"}})["microsoft"]
    assert consumers.issuers == (f"https://login.microsoftonline.com/{MICROSOFT_CONSUMERS}/v2.0",)


def test_any_other_name_is_discovered_from_its_issuer():
    found = parsed({"keycloak": {"issuer": "https://sso.example.com/realms/shop", "client_ids": ["web"]}})["keycloak"]
    assert found.discovery_url == "https://sso.example.com/realms/shop/.well-known/openid-configuration"
    assert found.jwks_uri == "" and found.algorithms == ()
    named = parsed({"local": {"issuer": "http://127.0.0.1:9150", "client_ids": ["web"],
                              "jwks_uri": "http://127.0.0.1:9150/jwks"}})["local"]
    assert named.algorithms == ("RS256",) and named.discovery_url == ""


@pytest.mark.parametrize("value, problem", [
    ("not json", "not JSON"),
    ('["google"]', "must be a JSON object"),
    ({"google": {}}, "google: client_ids must name"),
    ({"google": {"client_ids": []}}, "client_ids must name"),
    ({"google": {"client_ids": ["g"], "issuer": "https://accounts.google.com"}}, "unknown key issuer"),
    ({"Google": {"client_ids": ["g"]}}, "is not a provider name"),
    ({"shop": {"client_ids": ["w"]}}, "needs its \"issuer\""),
    ({"shop": {"issuer": "http://sso.example.com", "client_ids": ["w"]}}, "must be https"),
    ({"shop": {"issuer": "https://sso.example.com", "client_ids": ["w"], "jwks_uri": "http://keys.example.com"}},
     "must be https"),
    ({"shop": {"issuer": "https://sso.example.com", "client_ids": ["w"], "algorithms": ["HS256"]}},
     "algorithms HS256 refused"),
    ({"shop": {"issuer": "https://sso.example.com", "client_ids": ["w"], "algorithms": ["none"]}},
     "algorithms none refused"),
    ({"shop": {"issuer": "https://sso.example.com", "client_ids": ["w"], "assume_email_verified": "yes"}},
     "assume_email_verified must be true or false"),
    ({"microsoft": {"client_ids": ["m"]}}, "microsoft needs the tenants it accepts"),
    ({"microsoft": {"client_ids": ["m"], "tenant": "organizations"}}, "microsoft needs the tenants it accepts"),
    ({"microsoft": {"client_ids": ["m"], "tenant": "contoso.onmicrosoft.com"}}, "is not a tenant id"),
    ({"microsoft": {"client_ids": ["m"], "assume_email_verified": True}}, "unknown key assume_email_verified"),
])
def test_a_configuration_that_cannot_work_is_refused(value, problem):
    with pytest.raises(ConfigurationError) as caught:
        parse_providers(value if isinstance(value, str) else json.dumps(value))
    assert caught.value.reason.startswith("setting ID_PROVIDERS: ") and problem in caught.value.reason


@pytest.mark.parametrize("issuer", ["http://localhost:9150", "http://127.0.0.1:9150/realm", "http://[::1]:9150",
                                    "http://sso.localhost:9150"])
def test_http_only_on_loopback(issuer):
    assert parsed({"local": {"issuer": issuer, "client_ids": ["w"]}})["local"].issuers == (issuer,)
