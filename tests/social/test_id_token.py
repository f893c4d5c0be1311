"""ID token verification (OpenID Connect Core 3.1.3.7) against forged tokens: each step's refusal.

The provider is the edge we do not own: here its discovery document and JWKS are served by a fake
fetch, so each test sets exactly what the provider publishes. The same refusals through the actions and
a real OpenID provider are in test_sign_in.py.
"""
from __future__ import annotations

import time

import pytest

from social_login import refusals
from social_login.cache import CachePolicy, DocumentCache, Fetched
from social_login.id_token import VerificationPolicy, verify
from social_login.providers import parse_providers
from tests.social.forge import CLIENT_ID, ISSUER, KeySet, claims, hmac_with_public_key, sign, unsigned

DISCOVERY = ISSUER + "/.well-known/openid-configuration"
JWKS = ISSUER + "/jwks"
NONCE = "n-0S6_WzA2Mj"


class Provider:
    """What the fake provider publishes, and how often it was asked."""

    def __init__(self, keys: KeySet, algorithms: list[str] | None = None) -> None:
        self.keys = keys
        self.discovery = {"issuer": ISSUER, "jwks_uri": JWKS,
                          "id_token_signing_alg_values_supported": algorithms or ["RS256", "ES256", "EdDSA"]}
        self.max_age: int | None = 3600
        self.down = False
        self.fetches: list[str] = []

    def fetch(self, url: str) -> Fetched:
        self.fetches.append(url)
        if self.down:
            raise refusals.ProviderUnavailable(f"{url} cannot be fetched: connection refused")
        return Fetched(self.discovery if url == DISCOVERY else self.keys.jwks(), self.max_age)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> KeySet:
    return KeySet.generate("RSA", "EC", "OKP")


@pytest.fixture
def provider(keys) -> Provider:
    return Provider(keys)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def documents(provider, clock) -> DocumentCache:
    return DocumentCache(provider.fetch, clock)


EXAMPLE = parse_providers(f'{{"example": {{"issuer": "{ISSUER}", "client_ids": ["{CLIENT_ID}", "storefront-ios"]}}}}')["example"]
POLICY = VerificationPolicy(leeway=60, cache=CachePolicy(min_seconds=300, max_seconds=86400, refetch_seconds=60,
                                                         stale_seconds=3600))


def check(token: str, documents: DocumentCache, nonce: str | None = NONCE, policy: VerificationPolicy = POLICY,
          provider=EXAMPLE, now: int | None = None):
    return verify(token, provider, nonce, policy, documents, now=int(time.time()) if now is None else now)


def refused(token: str, documents: DocumentCache, **kwargs) -> refusals.Refusal:
    with pytest.raises(refusals.Refusal) as caught:
        check(token, documents, **kwargs)
    return caught.value


@pytest.mark.parametrize("kind", ["RSA", "EC", "OKP"])
def test_a_token_signed_by_each_published_key_type_verifies(keys, documents, kind):
    key = next(k for k in keys.keys.values() if k.key_type == kind)
    token = check(sign(claims(), key), documents)
    assert token.claims["email"] == "ada@example.com" and token.subject == "subject-1"
    assert token.issuer == ISSUER and token.header["kid"] == key.kid
    assert len(token.payload_digest) == 64


def test_malformed_tokens_are_invalid(keys, documents):
    good = sign(claims(), keys.first)
    for token in ["", "not-a-jwt", good + ".x.y", good[:-10] + "A" * 10, "a.b.c", 42, None, "x" * 20_000]:
        assert refused(token, documents).code == "invalid-token"


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json", b'"a string"'])
def test_signed_claims_that_are_no_json_object_are_invalid(keys, documents, payload):
    from joserfc.jws import serialize_compact

    token = serialize_compact({"alg": "RS256", "kid": keys.first.kid}, payload, keys.first, algorithms=["RS256"])
    error = refused(token, documents)
    assert error.code == "invalid-token" and error.reason == "the claims are not a JSON object"


def test_alg_none_is_refused_even_if_the_provider_publishes_it(keys, provider, documents):
    provider.discovery["id_token_signing_alg_values_supported"] = ["none", "RS256"]
    error = refused(unsigned(claims(), kid=keys.first.kid), documents)
    assert error.code == "invalid-token" and "'none'" in error.reason


def test_hmac_keyed_with_the_public_key_is_refused(keys, provider, documents):
    provider.discovery["id_token_signing_alg_values_supported"] = ["HS256", "RS256"]
    error = refused(hmac_with_public_key(claims(), keys.first, keys.first.kid), documents)
    assert error.code == "invalid-token" and "'HS256'" in error.reason


def test_an_algorithm_the_provider_does_not_publish_is_refused(keys, provider, documents):
    provider.discovery["id_token_signing_alg_values_supported"] = ["RS256"]
    ec = next(k for k in keys.keys.values() if k.key_type == "EC")
    assert refused(sign(claims(), ec), documents).code == "invalid-token"


def test_a_key_of_another_type_than_the_alg_needs_is_not_used(keys, documents):
    """An RSA kid in the header of an ES256 token: no key fits, whatever the kid says."""
    ec = next(k for k in keys.keys.values() if k.key_type == "EC")
    token = sign(claims(), ec, kid=keys.first.kid)
    assert refused(token, documents).code == "invalid-token"


def test_a_signature_by_another_key_under_a_published_kid_is_refused(keys, documents):
    impostor = KeySet.generate("RSA").first
    token = sign(claims(), impostor, kid=keys.first.kid)
    assert refused(token, documents).reason.startswith("signature or structure refused")


def test_an_encrypted_token_is_not_taken(documents):
    assert refused("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", documents).code == "invalid-token"


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat"])
def test_a_required_claim_missing_is_refused(keys, documents, claim):
    error = refused(sign(claims(**{claim: None}), keys.first), documents)
    assert error.code == "invalid-token"


def test_the_issuer_must_be_exactly_the_providers(keys, documents):
    for iss in [ISSUER + "/", "https://ID.example.com", "https://evil.example.com", ISSUER + "/tenant"]:
        assert refused(sign(claims(iss=iss), keys.first), documents).code == "wrong-issuer"


def test_every_audience_must_be_a_client_id(keys, documents):
    assert refused(sign(claims(aud="someone-else"), keys.first), documents).code == "wrong-audience"
    assert refused(sign(claims(aud=[CLIENT_ID, "someone-else"], azp=CLIENT_ID), keys.first),
                   documents).code == "wrong-audience"
    assert check(sign(claims(aud=["storefront-ios"]), keys.first), documents).claims["aud"] == ["storefront-ios"]


def test_several_audiences_need_an_azp_among_the_client_ids(keys, documents):
    both = [CLIENT_ID, "storefront-ios"]
    assert refused(sign(claims(aud=both), keys.first), documents).code == "wrong-authorized-party"
    assert refused(sign(claims(aud=both, azp="someone-else"), keys.first), documents).code == "wrong-authorized-party"
    assert check(sign(claims(aud=both, azp="storefront-ios"), keys.first), documents).claims["azp"] == "storefront-ios"


def test_expiry_with_the_leeway(keys, documents):
    now = int(time.time())
    assert check(sign(claims(exp=now - 59), keys.first), documents, now=now)
    assert refused(sign(claims(exp=now - 60), keys.first), documents, now=now).code == "token-expired"
    assert refused(sign(claims(exp=now - 86400, iat=now - 90000), keys.first), documents, now=now).code == "token-expired"


def test_iat_and_nbf_in_the_future_beyond_the_leeway(keys, documents):
    now = int(time.time())
    assert check(sign(claims(iat=now + 60, nbf=now + 60), keys.first), documents, now=now)
    assert refused(sign(claims(iat=now + 61), keys.first), documents, now=now).code == "token-not-yet-valid"
    assert refused(sign(claims(nbf=now + 61), keys.first), documents, now=now).code == "token-not-yet-valid"


@pytest.mark.parametrize("values", [{"exp": "soon"}, {"iat": True}, {"nbf": "later"}, {"exp": float("nan")}])
def test_times_that_are_not_numbers_are_invalid(keys, documents, values):
    assert refused(sign(claims(**values), keys.first), documents).code == "invalid-token"


def test_the_nonce(keys, documents):
    token = sign(claims(), keys.first)
    assert refused(token, documents, nonce="another").code == "nonce-mismatch"
    assert refused(token, documents, nonce=None).code == "nonce-mismatch"  # the client must send its nonce
    without = sign(claims(nonce=None), keys.first)
    assert refused(without, documents, nonce=NONCE).code == "nonce-mismatch"  # the provider dropped it
    assert check(without, documents, nonce=None)
    strict = VerificationPolicy(require_nonce=True, cache=POLICY.cache)
    assert refused(without, documents, nonce=None, policy=strict).code == "nonce-required"


def test_a_kid_the_cached_set_lacks_fetches_the_set_again_once_and_not_too_often(keys, provider, documents, clock):
    check(sign(claims(), keys.first), documents)
    assert provider.fetches == [DISCOVERY, JWKS]
    rotated = KeySet.generate("RSA", prefix="rotated")
    provider.keys = rotated
    clock.now += 61  # past the floor between fetches
    assert check(sign(claims(), rotated.first), documents).header["kid"] == "rotated-0"
    assert provider.fetches == [DISCOVERY, JWKS, JWKS]
    forged_kids = [sign(claims(), rotated.first, kid=f"forged-{n}") for n in range(20)]
    for token in forged_kids:
        assert refused(token, documents).code == "invalid-token"
    assert provider.fetches == [DISCOVERY, JWKS, JWKS]  # within the floor: no fetch for any of them
    clock.now += 61
    assert refused(forged_kids[0], documents).code == "invalid-token"
    assert provider.fetches == [DISCOVERY, JWKS, JWKS, JWKS]  # one fetch, then the floor again


def test_cache_control_within_bounds(keys, provider, documents, clock):
    token = sign(claims(), keys.first)

    def fetches_after(seconds: float) -> int:
        clock.now += seconds
        check(token, documents)
        return provider.fetches.count(JWKS)

    provider.max_age = 10  # under the minimum: kept for the minimum (300 s)
    assert [fetches_after(0), fetches_after(299), fetches_after(2)] == [1, 1, 2]
    provider.max_age = 10 ** 9  # over the maximum: kept for the maximum (86400 s)
    assert [fetches_after(301), fetches_after(86_399), fetches_after(2)] == [3, 3, 4]


def test_a_provider_down_is_served_stale_for_a_bounded_time(keys, provider, documents, clock):
    token = sign(claims(), keys.first)
    check(token, documents)  # fetched, fresh for an hour (max_age 3600)
    provider.down = True
    clock.now += 3600 + 1800  # stale by half an hour: still served
    assert check(token, documents).subject == "subject-1"
    tries = len(provider.fetches)
    clock.now += 30  # within the floor: the provider is not asked again
    assert check(token, documents)
    assert len(provider.fetches) == tries
    clock.now += 1800  # stale by more than stale_seconds (3600)
    error = refused(token, documents)
    assert error.code == "provider-unavailable" and error.status_code == 503
    assert error.headers["Retry-After"] == "60"
    provider.down = False
    clock.now += 61
    assert check(token, documents)


def test_a_provider_never_reached_is_unavailable_not_a_refusal_of_the_token(keys, provider, documents):
    provider.down = True
    error = refused(sign(claims(), keys.first), documents)
    assert error.code == "provider-unavailable" and "connection refused" in error.reason


def test_discovery_must_name_the_issuer_it_was_asked_for(keys, provider, documents):
    provider.discovery["issuer"] = "https://evil.example.com"
    error = refused(sign(claims(), keys.first), documents)
    assert error.code == "provider-unavailable" and "4.3" in error.reason


def test_discovery_jwks_uri_must_be_https(keys, provider, documents):
    provider.discovery["jwks_uri"] = "http://id.example.com/jwks"
    assert refused(sign(claims(), keys.first), documents).code == "provider-unavailable"


def test_symmetric_and_encryption_keys_in_the_set_are_never_used(keys, provider, documents):
    """An "oct" key under the token's kid (HS256 keyed with it) and an enc key are skipped."""
    provider.discovery["id_token_signing_alg_values_supported"] = ["RS256"]
    published = keys.jwks()
    published["keys"] = [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
                         {**published["keys"][0], "kid": "enc-only", "use": "enc"}, *published["keys"]]
    provider.keys = type("Published", (), {"jwks": lambda self: published})()
    forged = sign(claims(), keys.first, kid="enc-only")
    assert refused(forged, documents).code == "invalid-token"
    assert check(sign(claims(), keys.first), documents)


def test_no_kid_is_accepted_only_when_one_key_fits(documents, provider):
    single = KeySet.generate("RSA")
    provider.keys = single
    assert check(sign(claims(), single.first, kid=None), documents)
    two = KeySet.generate("RSA", "RSA", prefix="two")
    provider.keys = two
    fresh = DocumentCache(provider.fetch, Clock())
    assert refused(sign(claims(), two.first, kid=None), fresh).code == "invalid-token"


def test_google_accepts_both_issuer_spellings_as_one_issuer(keys):
    google = parse_providers('{"google": {"client_ids": ["web-client"]}}')["google"]
    jwks = "https://www.googleapis.com/oauth2/v3/certs"
    documents = DocumentCache(lambda url: Fetched(keys.jwks(), 3600) if url == jwks else pytest.fail(url))
    policy = VerificationPolicy(cache=CachePolicy())
    for iss in ("https://accounts.google.com", "accounts.google.com"):
        token = sign(claims(iss=iss, aud="web-client", nonce=None), keys.first)
        assert verify(token, google, None, policy, documents, int(time.time())).issuer == "https://accounts.google.com"


def test_microsoft_takes_only_the_listed_tenants(keys):
    allowed, other = "11111111-2222-3333-4444-555555555555", "99999999-8888-7777-6666-555555555555"
    microsoft = parse_providers(f'{{"microsoft": {{"client_ids": ["app"], "tenants": ["{allowed}"]}}}}')["microsoft"]
    documents = DocumentCache(lambda url: Fetched(keys.jwks(), 3600))
    policy = VerificationPolicy(cache=CachePolicy())

    def token(tenant: str, tid: str | None = None) -> str:
        return sign(claims(iss=f"https://login.microsoftonline.com/{tenant}/v2.0", tid=tid or tenant, aud="app",
                           nonce=None), keys.first)

    assert verify(token(allowed), microsoft, None, policy, documents, int(time.time())).issuer.endswith(f"/{allowed}/v2.0")
    with pytest.raises(refusals.TenantNotAllowed):
        verify(token(other), microsoft, None, policy, documents, int(time.time()))
    with pytest.raises(refusals.WrongIssuer):  # the tid claim must be the issuer's tenant
        verify(token(allowed, tid=other), microsoft, None, policy, documents, int(time.time()))
