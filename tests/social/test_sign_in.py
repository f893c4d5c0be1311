"""Sign-in end to end: a real OpenID provider's tokens, through the emulator's sign-in web sequence,
to a Commerce customer token from the emulator's own /graphql; on both storage backends."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import token_customer_id
from tests.social.conftest import running_emulator
from tests.social.forge import KeySet, claims, sign
from tests.social.openid_provider import OpenIDProvider

CUSTOMER_QUERY = "{ customer { email firstname lastname } }"


def test_a_real_sign_in_then_the_customer_query(sign_in_emulator, openid_provider):
    id_token, nonce = openid_provider.sign_in("grace")
    answer = sign_in_emulator.sign_in({"provider": "local", "id_token": id_token, "nonce": nonce})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer"] == {"email": "grace@example.com", "firstname": "Grace", "lastname": "Example",
                                "is_subscribed": False}
    assert body["link"]["new"] is True and body["link"]["issuer"] == openid_provider.issuer
    me = sign_in_emulator.graphql(CUSTOMER_QUERY, body["token"])
    assert me == {"data": {"customer": {"email": "grace@example.com", "firstname": "Grace", "lastname": "Example"}}}

    again, nonce = openid_provider.sign_in("grace", flow="code")
    second = sign_in_emulator.sign_in({"provider": "local", "id_token": again, "nonce": nonce}).json()
    assert second["link"]["new"] is False
    assert token_customer_id(second["token"]) == token_customer_id(body["token"])


def test_32_concurrent_sign_ins_with_one_id_token_one_succeeds(any_store_url, openid_provider):
    with running_emulator(any_store_url, workers=4, ID_PROVIDERS=openid_provider.settings()) as emulator:
        id_token, nonce = openid_provider.sign_in("raced")
        body = {"provider": "local", "id_token": id_token, "nonce": nonce}
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(lambda _: emulator.sign_in(body), range(32)))
        assert sorted(a.status_code for a in answers) == [200] + [401] * 31
        codes = [a.json()["errors"][0]["extensions"]["code"] for a in answers if a.status_code == 401]
        assert set(codes) == {"token-already-used"}
        assert emulator.store.customer_count() == 1


def test_keys_rotated_at_the_provider(any_store_url, tmp_path):
    """The provider replaces its key: the next token names a kid the cached set lacks, and the set is
    fetched again (JWKS_REFETCH_SECONDS after the last fetch); the retired key signs nothing any more."""
    old = KeySet.generate("RSA", prefix="old")
    provider = OpenIDProvider(tmp_path, old)
    try:
        with running_emulator(any_store_url, ID_PROVIDERS=provider.settings(), JWKS_REFETCH_SECONDS="1") as emulator:
            before, nonce = provider.sign_in("rotating")
            assert emulator.sign_in({"provider": "local", "id_token": before, "nonce": nonce}).status_code == 200
            new = KeySet.generate("RSA", prefix="new")
            provider.restart(new)
            time.sleep(1.1)
            after, nonce = provider.sign_in("rotating")
            answer = emulator.sign_in({"provider": "local", "id_token": after, "nonce": nonce})
            assert answer.status_code == 200, answer.text
            retired = sign(claims(iss=provider.issuer, aud="storefront", sub="rotating"), old.first)
            time.sleep(1.1)
            refused = emulator.sign_in({"provider": "local", "id_token": retired, "nonce": claims()["nonce"]})
            assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "invalid-token"
    finally:
        provider.stop()


def test_the_provider_down(any_store_url, tmp_path):
    """Keys fetched before serve while the provider is down, past their freshness (JWKS_STALE_SECONDS);
    a container that never fetched them answers 503 provider-unavailable, with Retry-After."""
    keys = KeySet.generate("RSA")
    provider = OpenIDProvider(tmp_path, keys)
    short = {"ID_PROVIDERS": provider.settings(), "JWKS_CACHE_MIN_SECONDS": "1", "JWKS_CACHE_MAX_SECONDS": "1",
             "JWKS_REFETCH_SECONDS": "0"}
    try:
        with running_emulator(any_store_url, **short) as emulator:
            first, nonce = provider.sign_in("weathered")
            assert emulator.sign_in({"provider": "local", "id_token": first, "nonce": nonce}).status_code == 200
            later, later_nonce = provider.sign_in("weathered")
            provider.stop()
            time.sleep(1.1)  # the documents are stale now, and the provider is down
            answer = emulator.sign_in({"provider": "local", "id_token": later, "nonce": later_nonce})
            assert answer.status_code == 200, answer.text
            logs = emulator.controller.activations.list(1, name="social-login/verify-id-token")[0].logs
            assert any("keeping the copy fetched" in line for line in logs)
        with running_emulator(any_store_url, **short) as cold:
            another = sign(claims(iss=provider.issuer, aud="storefront"), keys.first)
            answer = cold.sign_in({"provider": "local", "id_token": another, "nonce": claims()["nonce"]})
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
            assert answer.json()["errors"][0]["extensions"]["code"] == "provider-unavailable"
    finally:
        provider.stop()


class LinkedMeanwhile:
    """The store, with another first sign-in of the same subject linking it to `email` just before this
    one links: the interleaving of two concurrent first sign-ins, made certain."""

    def __init__(self, store, email: str) -> None:
        self._store, self._email = store, email

    def __getattr__(self, name):
        return getattr(self._store, name)

    def link_account(self, link):
        self._store.link_account(link._replace(email=self._email))
        return self._store.link_account(link)


def test_a_first_sign_in_that_loses_the_link_race_opens_the_linked_account(tmp_path):
    """Two first sign-ins of one subject with different emails (the provider changed it between the two
    tokens): the one that links second gets the token of the account the subject is linked to, as every
    later sign-in of that subject will, never the other."""
    from social_login import account_links
    from social_login.commerce import Commerce
    from social_login.identity import Identity

    with running_emulator(f"tinydb://{tmp_path}/store.json") as commerce:
        store = LinkedMeanwhile(commerce.store, "first@example.com")
        identity = Identity("local", "https://id.example", "subject-1", "second@example.com", True, "Ada", "Lovelace")
        signed_in = account_links.sign_in(store, identity, {}, "", Commerce(commerce.base + "/graphql",
                                          commerce.development), link_existing=True)
        assert signed_in.link.email == "first@example.com" and not signed_in.new_link
        assert signed_in.exchanged.customer["email"] == "first@example.com"
        assert commerce.store.customer(token_customer_id(signed_in.exchanged.token)).email == "first@example.com"
