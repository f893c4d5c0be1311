"""scripts/store, run as users run it: `migrate`, and `copy` TinyDB -> PostgreSQL -> TinyDB keeping ids."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from customer_auth.integrations import Integration
from customer_auth.store import AccountLink, Revocation, open_store

from tests.library.test_store import customer, full_customer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def store_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STORE_URL"}
    return subprocess.run([str(ROOT / "scripts" / "store"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_migrate(postgres_url):
    first = store_script("migrate", "--url", postgres_url)
    assert first.returncode == 0, first.stderr
    assert "applied migrations 1" in first.stdout and "schema at version" in first.stdout
    again = store_script("migrate", "--url", postgres_url)
    assert again.returncode == 0 and "nothing to apply" in again.stdout


def test_copy_round_trip_keeps_ids(tmp_path, postgres_url):
    source_url, back_url = f"tinydb://{tmp_path}/source.json", f"tinydb://{tmp_path}/back.json"
    source = open_store(source_url)
    source.import_integrations([Integration(name="social", id=4), Integration(name="other", id=9)])
    source.import_customers([full_customer("first@example.com", id=3), customer("second@example.com"),
                             customer("third@example.com", website_id=2)])
    source.revoke_tokens(3, 3, 1234)
    source.link_account(AccountLink("https://accounts.google.com", "1080", "first@example.com", "F", "L", "2026-01-01 00:00:00"))

    to_pg = store_script("copy", "--from", source_url, "--to", postgres_url)
    assert to_pg.returncode == 0, to_pg.stderr
    assert "copied 2 integrations, 3 customers, 1 revocations, 1 account links" in to_pg.stdout
    assert "customers" in to_pg.stderr and "3/3" in to_pg.stderr  # the progress bar

    pg = open_store(postgres_url)
    assert pg.integrations() == source.integrations()
    assert list(pg.customers()) == list(source.customers())
    assert [c.id for c in pg.customers()] == [3, 4, 5]
    assert list(pg.revocations()) == [Revocation(3, 3, 1234)]
    assert list(pg.account_links()) == list(source.account_links())
    # the identity sequences moved past the copied ids
    assert pg.find_or_create_customer(customer("new@example.com"))[0].id == 6
    assert pg.add_integration(Integration(name="new")).id == 10

    refused = store_script("copy", "--from", source_url, "--to", postgres_url)
    assert refused.returncode == 1 and "not empty" in refused.stderr

    back = store_script("copy", "--from", postgres_url, "--to", back_url)
    assert back.returncode == 0, back.stderr
    returned = open_store(back_url)
    assert returned.integrations() == pg.integrations()
    assert list(returned.customers()) == list(pg.customers())
    assert list(returned.revocations()) == list(pg.revocations())
    assert list(returned.account_links()) == list(pg.account_links())
