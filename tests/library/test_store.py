"""The storage interface, exercised for real: across threads, across processes, and across crashes."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import StoreError, open_store

ROOT = Path(__file__).resolve().parents[2]


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
    assert store.use_nonce("k1", "n", 1000, 0)
    assert not store.use_nonce("k1", "n", 1000, 0)
    assert store.use_nonce("k2", "n", 1000, 0)
    assert store.use_nonce("k1", "n", 5000, 2000)  # purged once older than the retention


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
    return open_store(url).use_nonce("consumer", "the-nonce", int(time.time()), 0)


@pytest.mark.parametrize("processes", [8])
def test_one_customer_under_concurrent_processes(store_url, store, processes):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            ids = pool.starmap(_create, [(store_url, "race@example.com", barrier)] * processes)
    assert len(set(ids)) == 1
    assert store.customer_count() == 1


def test_one_nonce_use_under_concurrent_processes(store_url, processes=8):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            results = pool.starmap(_use_nonce, [(store_url, barrier)] * processes)
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
    """SIGKILL a writer again and again mid-stream: the file always parses, and every customer the
    writer reported as stored is there."""
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
        data = json.loads((tmp_path / "store.json").read_text())
        assert len(data["customers"]) >= confirmed + 1
    fresh = open_store(url)
    assert all(fresh.find_customer(1, f"c{i}@example.com") for i in range(confirmed + 1))


def test_corrupt_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        open_store(f"tinydb://{tmp_path}/bad.json").customer(1)
