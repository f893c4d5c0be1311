"""The TinyDB backend's own files: nonce journals, bucket records, sharded customers, the
`synchronous` setting, and the move from earlier layouts (built here by hand, as the earlier code
wrote them)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from customer_auth.customers import Customer
from customer_auth.errors import ConfigurationError
from customer_auth.integrations import Integration
from customer_auth.store import journal, open_store, tinydb_path
from customer_auth.store.base import Admission, RateLimit
from customer_auth.store.tinydb_customers import CUSTOMER_SHARDS
from customer_auth.store.tinydb_store import TinyDBStore, _nonce_shard
from tests.conftest import race
from tests.library.test_store import customer, use_nonce


def nonces_in_shard(consumer_key: str, shard: int, count: int, prefix: str = "n") -> list[str]:
    """`count` nonces whose uses by `consumer_key` go to the same journal."""
    found, i = [], 0
    while len(found) < count:
        nonce, i = f"{prefix}{i}", i + 1
        if _nonce_shard(f"{consumer_key}:{nonce}") == shard:
            found.append(nonce)
    return found


def admit(store: TinyDBStore, nonce: str, timestamp: int = 1000, expire_before: int = 0, consumer_key: str = "ck") -> bool:
    return use_nonce(store, consumer_key, nonce, timestamp, expire_before)


def journal_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


# The URL ---------------------------------------------------------------------------------------

def test_url_parameters(tmp_path):
    url = f"tinydb://{tmp_path}/store.json"
    assert tinydb_path(url + "?synchronous=full") == f"{tmp_path}/store.json"
    assert open_store(url + "?synchronous=FULL")._sync and not open_store(url)._sync
    assert not open_store(url + "?synchronous=normal")._sync
    for query, message in [("synchronous=off", "synchronous='off'"), ("synchronous=", "synchronous=''"),
                           ("sync=full", "unknown parameter 'sync'"),
                           ("synchronous=full&synchronous=normal", "'synchronous' twice")]:
        with pytest.raises(ConfigurationError) as error:
            open_store(f"{url}?{query}")
        assert message in error.value.reason


@pytest.mark.parametrize("synchronous, hot_path_fsyncs", [("normal", 0), ("full", 3)])
def test_synchronous_decides_the_hot_path_fsyncs(tmp_path, monkeypatch, synchronous, hot_path_fsyncs):
    store = open_store(f"tinydb://{tmp_path}/store.json?synchronous={synchronous}")
    store.admit("ck", "warm", 1000, 0, RateLimit(60, 5), 1.0)  # files created, earlier layouts looked for
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd))[1])
    assert store.admit("ck", "n", 1000, 0, RateLimit(60, 5), 2.0) is Admission.ACCEPTED  # journal, bucket
    store.append_audit({"integration_id": 1, "outcome": "ok"})
    assert len(calls) == hot_path_fsyncs
    calls.clear()
    store.find_or_create_customer(customer("a@example.com"))  # whole files: fsynced in both modes
    assert len(calls) >= 3  # the id counter, the customer file and its directory


# Nonce journals --------------------------------------------------------------------------------

def test_replay_refused_across_stores_on_one_path(tmp_path):
    first, second = TinyDBStore(str(tmp_path / "store.json")), TinyDBStore(str(tmp_path / "store.json"))
    a, b = nonces_in_shard("ck", 5, 2)
    assert admit(first, a)
    assert not admit(second, a)  # read from the journal first has appended to
    assert admit(second, b)
    assert not admit(first, b)  # first reads on from where it stopped
    assert not admit(TinyDBStore(str(tmp_path / "store.json")), a)  # and a fresh one reads it all
    assert admit(first, a, timestamp=5000, expire_before=2000)  # an expired use is no longer a use
    assert len(journal_lines(tmp_path / "store.nonces" / "05.jsonl")) == 3


def test_torn_line_does_not_swallow_the_next_use(tmp_path):
    path = tmp_path / "store.nonces" / "07.jsonl"
    reader = TinyDBStore(str(tmp_path / "store.json"))
    a, b, c, torn = nonces_in_shard("ck", 7, 4)
    assert admit(reader, a)
    with open(path, "ab") as journal_file:
        journal_file.write(b'{"k":"ck:%s","t":10' % torn.encode())  # a writer killed mid-line
    writer = TinyDBStore(str(tmp_path / "store.json"))
    assert admit(writer, b)
    assert not admit(reader, b) and not admit(reader, a)
    assert admit(reader, c)
    assert journal_lines(path)[1] == b'{"k":"ck:%s","t":10' % torn.encode()  # a line of its own, skipped
    fresh = TinyDBStore(str(tmp_path / "store.json"))
    assert not any(admit(fresh, nonce) for nonce in (a, b, c))
    assert admit(fresh, torn)  # the torn use never completed


def test_compaction_keeps_live_uses_and_drops_expired_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "COMPACT_AFTER", 40)
    monkeypatch.setattr(journal, "SWEEP_EVERY", 10)
    path = tmp_path / "store.nonces" / "02.jsonl"
    store = TinyDBStore(str(tmp_path / "store.json"))
    old, live = nonces_in_shard("ck", 2, 60, "old"), nonces_in_shard("ck", 2, 10, "live")
    for nonce in old:
        assert admit(store, nonce, timestamp=100)
    inode = path.stat().st_ino
    for nonce in live:
        assert admit(store, nonce, timestamp=1000, expire_before=500)  # the old ones expire: compaction
    assert path.stat().st_ino != inode
    lines = journal_lines(path)
    assert len(lines) <= 10 and {json.loads(line)["k"] for line in lines} <= {f"ck:{n}" for n in live}
    fresh = TinyDBStore(str(tmp_path / "store.json"))
    assert not any(admit(fresh, nonce, timestamp=1000, expire_before=500) for nonce in live)
    assert not any(admit(store, nonce, timestamp=1000, expire_before=500) for nonce in live)  # reopened
    assert admit(fresh, old[0], timestamp=1000, expire_before=500)


def _contend_across_compactions(url: str, contested: list[str], barrier) -> list[str]:
    """Admits the contested nonces (live), each followed by three fillers of its own (expired at
    once) in the same journal, so that it is compacted again and again while other processes wait
    for it; returns the nonces this process won."""
    journal.COMPACT_AFTER, journal.SWEEP_EVERY = 64, 16
    store = open_store(url)
    fillers = nonces_in_shard("ck", 0, 3 * len(contested), f"f{os.getpid()}-")
    barrier.wait()
    won = []
    for i, nonce in enumerate(contested):
        if admit(store, nonce, timestamp=1000, expire_before=1):
            won.append(nonce)
        for filler in fillers[3 * i:3 * i + 3]:
            assert admit(store, filler, timestamp=0, expire_before=1)
    return won


def test_one_winner_per_nonce_across_compactions(tmp_path, processes=6):
    url = f"tinydb://{tmp_path}/store.json"
    contested = nonces_in_shard("ck", 0, 150, "c")
    results = race(_contend_across_compactions, (url, contested), processes)
    winners: dict[str, int] = {}
    for won in results:
        for nonce in won:
            winners[nonce] = winners.get(nonce, 0) + 1
    assert winners == dict.fromkeys(contested, 1)
    appended = len(contested) + processes * 3 * len(contested)
    assert len(journal_lines(tmp_path / "store.nonces" / "00.jsonl")) < appended / 4  # compacted on the way


# Rate-limit buckets ----------------------------------------------------------------------------

@pytest.mark.parametrize("damage", [b"", b"\0" * 96, b'{"tokens":0.0,"upd', b"[1, 2]", b'{"tokens":NaN,"updated":1}'])
def test_unreadable_bucket_record_counts_as_a_full_bucket(tmp_path, damage):
    store = TinyDBStore(str(tmp_path / "store.json"))
    limit = RateLimit(per_minute=1, burst=2)
    assert [store.admit("ck", None, 0, 0, limit, 100.0) for _ in range(3)] == [
        Admission.ACCEPTED, Admission.ACCEPTED, Admission.RATE_LIMITED]
    (record,) = (tmp_path / "store.buckets").iterdir()
    with open(record, "r+b") as bucket_file:
        bucket_file.truncate(0)
        bucket_file.write(damage)
    assert store.admit("ck", None, 0, 0, limit, 100.0) is Admission.ACCEPTED
    assert json.loads(record.read_bytes()) == {"tokens": 1.0, "updated": 100.0}
    assert len(record.read_bytes()) == 96
    other = store.admit("other", None, 0, 0, limit, 100.0)  # a file per integration
    assert other is Admission.ACCEPTED and len(list((tmp_path / "store.buckets").iterdir())) == 2


# Sharded customers -----------------------------------------------------------------------------

def _create_many(url: str, emails: list[str], barrier) -> list[tuple[str, int]]:
    store = open_store(url)
    barrier.wait()
    return [(email, store.find_or_create_customer(customer(email))[0].id) for email in emails]


def test_ids_unique_when_processes_create_customers_at_once(tmp_path, processes=6):
    url = f"tinydb://{tmp_path}/store.json"
    emails = [f"c{i}@example.com" for i in range(40)]  # every process creates (or finds) all of them
    results = race(_create_many, (url, emails), processes)
    ids = {email: {customer_id for result in results for e, customer_id in result if e == email} for email in emails}
    assert all(len(found) == 1 for found in ids.values())  # each email one customer, for everyone
    assert sorted(found.pop() for found in ids.values()) == list(range(1, len(emails) + 1))
    store = TinyDBStore(str(tmp_path / "store.json"))
    assert store.customer_count() == len(emails)
    files = len(list((tmp_path / "store.customers").glob("*.json")))
    assert files > min(len(emails), CUSTOMER_SHARDS) // 2  # spread over the shards, not piled in a few


def test_customer_by_id_across_shards_and_processes(tmp_path):
    path = str(tmp_path / "store.json")
    writer, reader = TinyDBStore(path), TinyDBStore(path)
    created = [writer.find_or_create_customer(customer(f"x{i}@example.com"))[0] for i in range(100)]
    assert [reader.customer(c.id) for c in created] == created
    assert reader.customer(101) is None
    later, _ = TinyDBStore(path).find_or_create_customer(customer("later@example.com"))
    assert later.id == 101 and reader.customer(101) == later  # a shard that changed is looked at again
    assert [c.id for c in reader.customers()] == list(range(1, 102))


def test_saved_customer_with_a_new_email_moves(tmp_path):
    path = str(tmp_path / "store.json")
    store = TinyDBStore(path)
    moved, _ = store.find_or_create_customer(customer("before@example.com"))
    store.find_or_create_customer(customer("taken@example.com"))
    moved.email = "after@example.com"
    store.save_customer(moved)
    fresh = TinyDBStore(path)
    assert fresh.find_customer(1, "before@example.com") is None
    assert fresh.find_customer(1, "AFTER@example.com") == moved == fresh.customer(moved.id)
    assert fresh.customer_count() == 2
    moved.email = "taken@example.com"
    with pytest.raises(ValueError):
        fresh.save_customer(moved)


def _save_with_each_email(url: str, customer_id: int, emails: list[str], rounds: int, barrier) -> None:
    """Saves the customer `rounds` times, with each of `emails` in turn, from a place in the list of
    its own: every save but the first moves it to another file."""
    store = open_store(url)
    saved = store.customer(customer_id)
    barrier.wait()
    for i in range(rounds):
        saved.email = emails[(os.getpid() + i) % len(emails)]
        store.save_customer(saved)


def test_customer_moved_by_processes_at_once_stays_in_one_file(tmp_path, processes=4):
    path = tmp_path / "store.json"
    store = TinyDBStore(str(path))
    moved, _ = store.find_or_create_customer(customer("start@example.com"))
    store.find_or_create_customer(customer("other@example.com"))
    emails = [f"moved{i}@example.com" for i in range(3)]
    assert len({store._customers._shard_for(1, email).number for email in [moved.email, *emails]}) == 4
    race(_save_with_each_email, (f"tinydb://{path}", moved.id, emails, 20), processes)
    files = [json.loads(shard.read_text()) for shard in (tmp_path / "store.customers").glob("*.json")]
    copies = [data["customers"][str(moved.id)] for data in files if str(moved.id) in data.get("customers", {})]
    assert len(copies) == 1 and copies[0]["email"] in emails
    fresh = TinyDBStore(str(path))
    assert fresh.customer_count() == 2 and fresh.find_customer(1, copies[0]["email"]).id == moved.id


def test_unreadable_id_counter_starts_after_the_highest_id(tmp_path):
    store = TinyDBStore(str(tmp_path / "store.json"))
    store.import_customers([Customer(**{**customer("a@example.com").to_record(), "id": 41})])
    (tmp_path / "store.customers" / "next_id").write_bytes(b"\0garbage")
    assert store.find_or_create_customer(customer("b@example.com"))[0].id == 42
    assert TinyDBStore(str(tmp_path / "store.json")).find_or_create_customer(customer("c@example.com"))[0].id == 43


# Earlier layouts -------------------------------------------------------------------------------

def old_layout(directory: Path, customers: int = 30) -> Integration:
    """A store as the earlier code left it: customers in the main file, nonces in 32 TinyDB shard
    files and in the single file before them, the buckets in one file."""
    integration = Integration(name="old", id=1)
    fields = {k: v for k, v in integration.to_record().items() if k != "id"}
    docs = {str(i): {k: v for k, v in customer(f"old{i}@example.com").to_record().items() if k != "id"}
            for i in range(1, customers + 1)}
    docs["77"] = docs.pop(str(customers))  # ids with a gap, as imports leave them
    (directory / "store.json").write_text(json.dumps({"integrations": {"1": fields}, "customers": docs,
                                                      "revocations": {}}))
    (directory / "store.json.lock").touch()
    shards = directory / "store.nonces"
    shards.mkdir()
    shard = _nonce_shard("ck:sharded")
    (shards / f"{shard:02d}.json").write_text(json.dumps({"nonces": {"1": {"key": "ck:sharded", "timestamp": 1000}}}))
    (shards / f"{shard:02d}.json.lock").touch()
    (directory / "store.nonces.json").write_text(json.dumps({"nonces": {
        "1": {"key": "ck:single", "timestamp": 1000}, "2": {"key": "other:single", "timestamp": 1000}}}))
    (directory / "store.buckets.json").write_text(json.dumps({"rate_buckets": {"1": {"key": "ck", "tokens": 0, "updated": 1}}}))
    return integration


def test_earlier_layout_moves_on_first_use(tmp_path):
    integration = old_layout(tmp_path)
    store = TinyDBStore(str(tmp_path / "store.json"))
    assert store.integration(1).name == integration.name  # the first use, whichever it is, moves everything
    assert "customers" not in json.loads((tmp_path / "store.json").read_text())
    assert store.customer_count() == 30 and store.customer(77).email == "old30@example.com"
    assert store.find_customer(1, "OLD3@example.com").id == 3
    assert store.find_or_create_customer(customer("new@example.com"))[0].id == 78
    assert not admit(store, "sharded") and not admit(store, "single") and not admit(store, "single", consumer_key="other")
    assert admit(store, "fresh")
    names = {p.name for p in tmp_path.iterdir()} | {p.name for p in (tmp_path / "store.nonces").iterdir()}
    assert not {name for name in names if name.endswith((".json", ".json.lock")) and not name.startswith("store.json")}
    assert store.admit("ck", None, 0, 0, RateLimit(60, 1), 1.0) is Admission.ACCEPTED  # buckets start full


def _open_old_layout(url: str, barrier) -> tuple[int, int, bool, bool]:
    store = open_store(url)
    barrier.wait()
    created, _ = store.find_or_create_customer(customer(f"new-{os.getpid()}@example.com"))
    return (created.id, store.find_customer(1, "old7@example.com").id, admit(store, "sharded"),
            admit(store, "single"))


def test_earlier_layout_moved_once_when_processes_start_at_once(tmp_path, processes=6):
    old_layout(tmp_path)
    results = race(_open_old_layout, (f"tinydb://{tmp_path}/store.json",), processes)
    new_ids = sorted(result[0] for result in results)
    assert new_ids == list(range(78, 78 + processes))
    assert all(result[1:] == (7, False, False) for result in results)  # everyone saw the moved data
    store = TinyDBStore(str(tmp_path / "store.json"))
    assert store.customer_count() == 30 + processes
    assert "customers" not in json.loads((tmp_path / "store.json").read_text())


def test_audit_lines_survive_a_torn_line(tmp_path):
    store = TinyDBStore(str(tmp_path / "store.json"))
    store.append_audit({"integration_id": 1, "n": 1})
    with open(tmp_path / "store.audit.jsonl", "ab") as audit_file:
        audit_file.write(b'{"integration_id": 1, "n"')
    store.append_audit({"integration_id": 1, "n": 2})
    assert [entry["n"] for entry in store.audit_entries()] == [2, 1]
    assert TinyDBStore(str(tmp_path / "store.json")).audit_entries(limit=1) == [
        {"integration_id": 1, "n": 2, "count": 1, "last_at": None}]


def test_opening_writes_nothing(tmp_path):
    TinyDBStore(str(tmp_path / "store.json"))
    assert list(tmp_path.iterdir()) == []  # opening costs nothing: the first use creates what it needs
