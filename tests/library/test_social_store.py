"""Social login's store: account links made once, ID token uses once until expiry, on both backends,
under concurrent processes too."""
from __future__ import annotations

import pytest

from customer_auth.store import AccountLink, open_store
from tests.conftest import race

ISSUER = "https://id.example.com"


def link(subject: str = "subject-1", email: str = "Ada@Example.com", **fields) -> AccountLink:
    return AccountLink(ISSUER, subject, email, fields.get("firstname", "Ada"), fields.get("lastname", "Lovelace"),
                       "2026-01-01 00:00:00")


def test_a_subject_is_linked_once(store):
    assert store.account_link(ISSUER, "subject-1") is None
    assert store.link_account(link()) == (link(), True)
    assert store.link_account(link(email="changed@example.com")) == (link(), False)  # the first link stays
    assert store.account_link(ISSUER, "subject-1") == link()
    assert store.account_link(ISSUER + "/", "subject-1") is None and store.account_link(ISSUER, "subject-2") is None


def test_whether_an_email_is_linked_is_case_insensitive(store):
    assert not store.email_linked("ada@example.com")
    store.link_account(link())
    store.link_account(link("subject-2", email="other@example.com"))
    assert store.email_linked("ada@example.com") and store.email_linked(" ADA@example.com ")
    assert store.email_linked("other@example.com") and not store.email_linked("nobody@example.com")


@pytest.mark.parametrize("subject", ["x" * 255, "sub with spaces and \"quotes\"", "Δ-ünïcode", "'; DROP TABLE x; --"])
def test_subjects_are_stored_verbatim(store, subject):
    store.link_account(link(subject))
    assert store.account_link(ISSUER, subject).subject == subject


def test_an_id_token_is_used_once_until_it_expires(store):
    assert store.use_id_token("token-a", expires_at=1100, now=1000)
    assert not store.use_id_token("token-a", expires_at=1100, now=1050)
    assert not store.use_id_token("token-a", expires_at=1100, now=1100)
    assert store.use_id_token("token-b", expires_at=1100, now=1050)
    assert store.use_id_token("token-a", expires_at=1200, now=1101)  # expired: it could not verify anyway


def test_links_export_and_import(store, tmp_path):
    links = [link(f"subject-{n}", email=f"c{n}@example.com") for n in range(5)]
    for item in links:
        store.link_account(item)
    exported = list(store.account_links())
    assert exported == sorted(links, key=lambda item: (item.issuer, item.subject))
    other = open_store(f"tinydb://{tmp_path}/copy.json")
    assert other.import_account_links(exported) == 5
    assert list(other.account_links()) == exported
    with pytest.raises(ValueError):
        other.import_account_links([link("new"), exported[0]])
    assert other.account_link(ISSUER, "new") is None  # nothing of a refused import is kept


def _link_concurrently(url: str, barrier) -> tuple[str, bool]:
    import os

    barrier.wait()
    stored, created = open_store(url).link_account(link(email=f"p{os.getpid()}@example.com"))
    return stored.email, created


def _use_concurrently(url: str, barrier) -> bool:
    barrier.wait()
    return open_store(url).use_id_token("one-token", expires_at=2_000_000_000, now=1_000_000_000)


def test_one_link_under_concurrent_first_sign_ins(store_url, processes=8):
    results = race(_link_concurrently, (store_url,), processes)
    assert len({email for email, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (processes - 1) + [True]


def test_one_use_of_an_id_token_under_concurrent_processes(store_url, processes=8):
    """(32 concurrent sign-ins with one ID token, through the emulator's warm workers: test_sign_in.py.)"""
    results = race(_use_concurrently, (store_url,), processes)
    assert sorted(results) == [False] * (processes - 1) + [True]
