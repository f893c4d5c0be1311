"""The storage interface, exercised for real: across threads, across processes, and across crashes.

Tests taking `store_url` or `store` run once per backend (TinyDB, PostgreSQL: see conftest.py)."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import Revocation, StoreError, open_store
from customer_auth.store.base import Admission
from tests.conftest import race

ROOT = Path(__file__).resolve().parents[2]


def use_nonce(store, consumer_key: str, nonce: str, timestamp: int, expire_before: int) -> bool:
    """The nonce half of `admit` (no rate limit): True the first time."""
    return store.admit(consumer_key, nonce, timestamp, expire_before, None, 0.0) is Admission.ACCEPTED


def customer(email: str, website_id: int = 1) -> Customer:
    return Customer(email=email, firstname="F", lastname="L", website_id=website_id, store_id=1)


def test_integrations_round_trip(store):
    created = store.add_integration(Integration(name="a"))
    assert created.id == 1
    assert store.integration_by_consumer_key(created.consumer_key) == created
    assert store.integration_by_access_token(created.access_token) == created
    assert store.integration(1) == created
    created.status = "inactive"
    store.save_integration(created)
    assert store.integration(1).status == "inactive"
    assert [i.name for i in store.integrations()] == ["a"]
    with pytest.raises(ValueError):
        store.add_integration(Integration(name="a"))


def test_customers_unique_per_website_and_email(store):
    first, created = store.find_or_create_customer(customer("Roni@Example.com"))
    assert created and first.id == 1
    again, created = store.find_or_create_customer(customer("roni@example.COM"))
    assert not created and again.id == 1 and again.email == "Roni@Example.com"
    other, created = store.find_or_create_customer(customer("roni@example.com", website_id=2))
    assert created and other.id == 2
    assert store.find_customer(1, "RONI@example.com").id == 1
    assert store.find_customer(3, "roni@example.com") is None
    assert store.customer_count() == 2


def test_revocations(store):
    assert store.revoked_before(3, 1) is None
    store.revoke_tokens(3, 1, 100)
    store.revoke_tokens(3, 1, 200)
    assert store.revoked_before(3, 1) == 200 and store.revoked_before(1, 1) is None


def test_nonces_once_per_consumer_and_purged(store):
    assert use_nonce(store, "k1", "n", 1000, 0)
    assert not use_nonce(store, "k1", "n", 1000, 0)
    assert use_nonce(store, "k2", "n", 1000, 0)
    assert use_nonce(store, "k1", "n", 5000, 2000)  # purged once older than the retention


def full_customer(email: str, **overrides) -> Customer:
    """A customer with every field set to something other than its default."""
    values = dict(email=email, firstname="Ünïcode", lastname="O'Brien", website_id=2, store_id=3, group_id=4,
                  middlename="M", prefix="Dr", suffix="Jr", dob="1990-01-31", gender=2, taxvat="GB123",
                  is_subscribed=True, allow_remote_shopping_assistance=True, confirmation_status="ACCOUNT_CONFIRMATION_REQUIRED",
                  custom_attributes=[{"attribute_code": "loyalty", "value": "gold"}, {"value": "1", "attribute_code": "b"}],
                  password_hash="pbkdf2_sha256$1$00$ff", created_at="2024-05-01 12:00:00", updated_at="2024-05-02 13:00:00")
    return Customer(**{**values, **overrides})


def test_customer_record_round_trips_every_field(store):
    stored, created = store.find_or_create_customer(full_customer("all@example.com"))
    assert created
    assert store.customer(stored.id) == stored
    assert store.customer(stored.id).to_record() == stored.to_record()
    assert list(store.customer(stored.id).custom_attributes[1]) == ["value", "attribute_code"]  # key order kept
    stored.lastname, stored.custom_attributes, stored.dob = "Changed", [], None
    store.save_customer(stored)
    assert store.find_customer(2, "ALL@example.com") == stored


def test_record_is_a_copy_of_every_field():
    """`to_record` is what `dataclasses.asdict` gives, sharing nothing mutable with the entity."""
    entity = full_customer("copy@example.com", id=7)
    record = entity.to_record()
    assert record == dataclasses.asdict(entity) and list(record) == [f.name for f in dataclasses.fields(Customer)]
    record["custom_attributes"][0]["value"] = "changed"
    record["custom_attributes"].append({})
    assert entity.custom_attributes == full_customer("copy@example.com").custom_attributes
    assert Customer.from_record({**record, "added_by_a_newer_version": 1}) == Customer(**record)


@pytest.mark.parametrize("email", [
    "robert'); DROP TABLE customers;--@example.com",
    "\"x\" OR 1=1 --@example.com",
    "a%_\\b@example.com",
    "$1$@example.com",
])
def test_injection_looking_values_are_stored_verbatim(store, email):
    stored, created = store.find_or_create_customer(customer(email))
    assert created and store.customer(stored.id).email == email
    assert store.find_customer(1, email.upper()).id == stored.id
    assert store.find_customer(1, "a__b@example.com") is None  # LIKE wildcards are not wildcards
    name = "x'; DELETE FROM integrations; --"
    integration = store.add_integration(Integration(name=name, resources=["a'b", "{c,d}"]))
    assert store.integration(integration.id).name == name
    assert store.integration(integration.id).resources == ["a'b", "{c,d}"]
    assert store.customer_count() == 1


def test_bulk_import_keeps_ids_and_new_ids_follow(store):
    integrations = [Integration(name="seven", id=7), Integration(name="three", id=3)]
    assert store.import_integrations(integrations) == 2
    assert [i.id for i in store.integrations()] == [3, 7]
    assert store.add_integration(Integration(name="next")).id == 8
    assert store.import_customers([customer("ten@example.com") , customer("nine@example.com")]) == 2
    customers = [full_customer("a@example.com", id=10), customer("b@example.com")]
    customers[1].id = 4
    assert store.import_customers(customers) == 2
    assert store.customer(10) == customers[0]
    assert store.find_or_create_customer(customer("new@example.com"))[0].id == 11
    assert [c.id for c in store.customers()] == [1, 2, 4, 10, 11]
    assert store.import_revocations([Revocation(3, 10, 100), (1, 7, 50)]) == 2
    assert list(store.revocations()) == [Revocation(1, 7, 50), Revocation(3, 10, 100)]
    assert store.revoked_before(3, 10) == 100


@pytest.mark.parametrize("conflict", ["id", "email", "name", "revocation"])
def test_bulk_import_conflict_imports_nothing(store, conflict):
    store.import_integrations([Integration(name="taken", id=1)])
    store.import_customers([customer("taken@example.com", website_id=1)])
    store.revoke_tokens(3, 1, 10)
    with pytest.raises(ValueError):
        if conflict == "id":
            store.import_customers([customer("fresh@example.com"), Customer(**{**customer("x@example.com").to_record(), "id": 1})])
        elif conflict == "email":
            store.import_customers([customer("fresh@example.com"), customer("TAKEN@example.com")])
        elif conflict == "name":
            store.import_integrations([Integration(name="fresh"), Integration(name="taken")])
        else:
            store.import_revocations([Revocation(3, 2, 1), Revocation(3, 1, 1)])
    assert store.customer_count() == 1 and store.find_customer(1, "fresh@example.com") is None
    assert [i.name for i in store.integrations()] == ["taken"]
    assert list(store.revocations()) == [Revocation(3, 1, 10)]


def test_lookup_sees_writes_of_another_process(store_url, store):
    store.find_customer(1, "x@example.com")  # warm the cache and index
    code = (f"from customer_auth.store import open_store; from tests.library.test_store import customer;"
            f"open_store({store_url!r}).find_or_create_customer(customer('x@example.com'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=_child_env())
    assert store.find_customer(1, "x@example.com") is not None


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'actions'}"}


def _create(url: str, email: str, barrier) -> int:
    barrier.wait()
    return open_store(url).find_or_create_customer(customer(email))[0].id


def _use_nonce(url: str, barrier) -> bool:
    barrier.wait()
    return use_nonce(open_store(url), "consumer", "the-nonce", int(time.time()), 0)


@pytest.mark.parametrize("processes", [8])
def test_one_customer_under_concurrent_processes(store_url, store, processes):
    ids = race(_create, (store_url, "race@example.com"), processes)
    assert len(set(ids)) == 1
    assert store.customer_count() == 1


def test_one_nonce_use_under_concurrent_processes(store_url, processes=8):
    results = race(_use_nonce, (store_url,), processes)
    assert sorted(results) == [False] * (processes - 1) + [True]


WRITER = """
import sys
from customer_auth.store import open_store
from tests.library.test_store import customer
store = open_store(sys.argv[1])
for i in range(100000):
    store.find_or_create_customer(customer(f"c{i}@example.com"))
    print(i, flush=True)
"""


def test_killed_writer_never_leaves_a_broken_file(tmp_path):
    """SIGKILL a writer again and again mid-stream: the customer files always parse, and every
    customer the writer reported as stored is there."""
    url = f"tinydb://{tmp_path}/store.json"
    confirmed = -1
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, url], cwd=ROOT, env=_child_env(),
                                stdout=subprocess.PIPE, text=True)
        time.sleep(0.3 + 0.05 * round_)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        lines = out.split()
        if lines:
            confirmed = max(confirmed, int(lines[-1]))
        if confirmed < 0:
            continue  # killed before its first write: nothing was promised yet
        files = [json.loads(path.read_text()) for path in (tmp_path / "store.customers").glob("*.json")]
        assert sum(len(data.get("customers", {})) for data in files) >= confirmed + 1
    assert confirmed >= 0, "no round let the writer report a stored customer: nothing was checked"
    fresh = open_store(url)
    assert all(fresh.find_customer(1, f"c{i}@example.com") for i in range(confirmed + 1))


def test_corrupt_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        open_store(f"tinydb://{tmp_path}/bad.json").customer(1)
