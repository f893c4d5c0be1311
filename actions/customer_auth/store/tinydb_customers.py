"""The TinyDB backend's customers: 256 TinyDB files (`NNN.json`, table `customers`, the document id is
the customer id), a customer in the file chosen by a hash of its (website, email), so that creating
one rewrites 1/256 of the customers and a lookup by email reads one file. Ids come from `next_id`, a
counter beside them.

Lock order, to never deadlock: shards in ascending order, then the counter. Creating a customer takes
its shard, then the counter; an import takes every shard, then the counter; a save, its old and new
shards (or every shard), then the counter.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ..customers import Customer, email_key
from .tinydb_files import (
    Database, KeptFile, OnFirstUse, assign_ids, fixed_record, read_table, shard_of, stored_fields,
)

CUSTOMERS = "customers"
CUSTOMER_SHARDS = 256
SAVE_ATTEMPTS = 4  # of a save whose customer other processes keep moving (the last cannot fail)


class _Shard:
    """One customers file, and its index by (website, email) rebuilt when the file changed."""

    def __init__(self, number: int, path: Path) -> None:
        self.number = number
        self.db = Database(path)
        self._generation = -1
        self._by_email: dict[tuple[int, str], int] = {}

    # Inside db.read() or db.write():
    def docs(self) -> dict[str, dict[str, Any]]:
        """The customers of this file by id (as text, TinyDB's document ids)."""
        return (self.db.storage.read() or {}).get(CUSTOMERS) or {}

    def by_email(self) -> dict[tuple[int, str], int]:
        docs = self.docs()  # the snapshot this read or write holds (db.read() loaded it)
        if self._generation != self.db.storage.generation:
            self._by_email = {(doc["website_id"], email_key(doc["email"])): int(i) for i, doc in docs.items()}
            self._generation = self.db.storage.generation
        return self._by_email

    def find(self, website_id: int, email: str) -> Customer | None:
        customer_id = self.by_email().get((website_id, email_key(email)))
        return None if customer_id is None else _customer(customer_id, self.docs()[str(customer_id)])

    # Inside db.locked():
    def holds(self, customer_id: int) -> bool:
        """Whether the file holds the id now: read afresh, as a copy cached before the lock was taken
        may predate another process's write."""
        with self.db.write():  # nothing changed, nothing written
            return str(customer_id) in self.docs()

    # Inside db.write():
    def put(self, customer_id: int, doc: dict[str, Any]) -> None:
        data = self.db.storage.read() or {}
        data.setdefault(CUSTOMERS, {})[str(customer_id)] = doc
        self.db.storage.write(data)

    def remove(self, customer_id: int) -> None:
        data = self.db.storage.read() or {}
        data.get(CUSTOMERS, {}).pop(str(customer_id), None)
        self.db.storage.write(data)


class CustomerShards:
    """The customers part of the `Store` interface over the shard files in `directory`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._shards: OnFirstUse[int, _Shard] = OnFirstUse(
            lambda number: _Shard(number, self._directory / f"{number:03d}.json"))
        self._ids = _IdCounter(directory / "next_id", self._highest_id)
        self._id_lock = threading.Lock()
        self._shard_of_id: dict[int, int] = {}  # where this process last saw each id
        self._indexed: dict[int, int] = {}  # shard -> its data generation whose ids _shard_of_id holds

    def get(self, customer_id: int) -> Customer | None:
        number = self._shard_of_id.get(customer_id)
        found = None if number is None else self._get(number, customer_id)
        if found is None:  # new to this process, or moved: look at the shards that changed
            number = self._index_ids().get(customer_id)
            found = None if number is None else self._get(number, customer_id)
        return found

    def find(self, website_id: int, email: str) -> Customer | None:
        shard = self._shard_for(website_id, email)
        with shard.db.read():
            found = shard.find(website_id, email)
        if found is not None:
            self._shard_of_id[found.id] = shard.number  # type: ignore[index]
        return found

    def find_or_create(self, candidate: Customer) -> tuple[Customer, bool]:
        existing = self.find(candidate.website_id, candidate.email)
        if existing:
            return existing, False
        shard = self._shard_for(candidate.website_id, candidate.email)
        with shard.db.write():  # decide again under the lock: another process may have won
            existing = shard.find(candidate.website_id, candidate.email)
            if existing:
                return existing, False
            candidate.id = self._ids.allocate()
            shard.put(candidate.id, stored_fields(candidate))
        self._shard_of_id[candidate.id] = shard.number
        return candidate, True

    def save(self, customer: Customer) -> None:
        """Writes a customer; one whose website or email changed moves to its new shard. A crash
        between that move's two file writes leaves it in both files (never in neither).

        Where it is gets looked up before any lock is taken, so it is checked again under the locks:
        another process may have moved it meanwhile, and then it is looked up again. The save of an
        id no file holds (there is no lock on "nowhere"), and the last attempt, take every shard's
        lock instead: under them the customer cannot move."""
        if customer.id is None:
            self.import_customers([customer])
            return
        target = self._shard_for(customer.website_id, customer.email)
        for attempt in range(SAVE_ATTEMPTS):
            with target.db.read():
                elsewhere = str(customer.id) not in target.docs()
            number = self._index_ids().get(customer.id) if elsewhere else target.number  # all shards: only then
            numbers = (sorted({target.number, number}) if number is not None and attempt < SAVE_ATTEMPTS - 1
                       else range(CUSTOMER_SHARDS))
            if self._save_holding(customer, target, numbers):
                break
        self._shard_of_id[customer.id] = target.number

    def _save_holding(self, customer: Customer, target: _Shard, numbers: Iterable[int]) -> bool:
        """The save under the locks of the shards `numbers` (ascending: the lock order; the target's
        among them); False, writing nothing, if none holds the customer and they are not all of them."""
        assert customer.id is not None
        shards = [self._shard(number) for number in numbers]
        with ExitStack() as locks:
            for shard in shards:
                locks.enter_context(shard.db.locked())
            others = [shard for shard in shards if shard is not target and shard.holds(customer.id)]
            with target.db.write():  # read afresh, like holds()
                known = others or str(customer.id) in target.docs()
                if not known and len(shards) < CUSTOMER_SHARDS:
                    return False  # moved to a shard not locked here (nothing changed, nothing written)
                owner = target.by_email().get((customer.website_id, customer.email_key))
                if owner not in (None, customer.id):
                    raise ValueError(f"a customer with email {customer.email!r} already exists in website "
                                     f"{customer.website_id}")
                target.put(customer.id, stored_fields(customer))
            if not known:  # an id no file held: never to be handed out again
                self._ids.raise_to(customer.id + 1)
            for shard in others:  # then the copy it moved from (a crash may have left more than one)
                with shard.db.write():
                    shard.remove(customer.id)
        return True

    def count(self) -> int:
        total = 0
        for shard in self._all():
            with shard.db.read():
                total += len(shard.docs())
        return total

    def all(self) -> list[Customer]:
        """Every customer, by id."""
        docs: list[tuple[int, dict[str, Any]]] = []
        for shard in self._all():
            with shard.db.read():
                docs.extend((int(i), doc) for i, doc in shard.docs().items())
        docs.sort(key=lambda item: item[0])
        return [_customer(customer_id, doc) for customer_id, doc in docs]

    def import_customers(self, items: list[Customer]) -> int:
        """All or nothing as far as checks go: everything is checked before any file is written. Then
        each shard file is written atomically, one after the other: a crash in between leaves the
        customers of the shards written so far (importing again then fails on their ids)."""
        if not items:
            return 0
        with self._all_written() as shards:
            keys: set[tuple[int, str]] = set()
            taken: set[int] = set()
            for shard in shards:
                keys.update(shard.by_email())
                taken.update(map(int, shard.docs()))
            for item in items:
                key = (item.website_id, item.email_key)
                if key in keys:
                    raise ValueError(f"a customer with email {item.email!r} already exists in website {item.website_id}")
                keys.add(key)
            next_id = assign_ids(items, taken, self._ids.peek())
            for item in items:
                shard = self._shard_for(item.website_id, item.email)
                shard.put(item.id, stored_fields(item))  # type: ignore[arg-type]
            self._ids.raise_to(next_id)
        return len(items)

    def adopt(self, docs: dict[str, dict[str, Any]]) -> None:
        """Customers of the earlier one-file layout (TinyDB documents by id), moved in with their ids.
        Doing it again (after a crash before the old file dropped them) writes the same documents."""
        with self._all_written():
            for customer_id, doc in docs.items():
                self._shard_for(doc["website_id"], doc["email"]).put(int(customer_id), doc)
            self._ids.raise_to(max(map(int, docs), default=0) + 1)

    def close(self) -> None:
        self._ids.close()

    @contextmanager
    def _all_written(self) -> Iterator[list[_Shard]]:
        """Every shard in a write transaction, taken in the lock order."""
        shards = self._all()
        with ExitStack() as transactions:
            for shard in shards:
                transactions.enter_context(shard.db.write())
            yield shards

    def _get(self, number: int, customer_id: int) -> Customer | None:
        shard = self._shard(number)
        with shard.db.read():
            doc = shard.docs().get(str(customer_id))
            return None if doc is None else _customer(customer_id, doc)

    def _index_ids(self) -> dict[int, int]:
        """Which shard holds each id, updated from the shards that changed since last time."""
        with self._id_lock:
            for shard in self._all():
                with shard.db.read():
                    docs = shard.docs()
                    if self._indexed.get(shard.number) != shard.db.storage.generation:
                        self._shard_of_id.update(dict.fromkeys(map(int, docs), shard.number))
                        self._indexed[shard.number] = shard.db.storage.generation
            return self._shard_of_id

    def _shard_for(self, website_id: int, email: str) -> _Shard:
        return self._shard(shard_of(f"{website_id}:{email_key(email)}", CUSTOMER_SHARDS))

    def _shard(self, number: int) -> _Shard:
        return self._shards[number]

    def _all(self) -> list[_Shard]:
        return [self._shard(number) for number in range(CUSTOMER_SHARDS)]

    def _highest_id(self) -> int:
        """The highest id in the files, read directly: the counter's fallback, called under its lock
        (so taking no shard's: see the lock order above)."""
        highest = 0
        for number in range(CUSTOMER_SHARDS):
            docs = read_table(self._directory / f"{number:03d}.json", CUSTOMERS) or {}
            highest = max(highest, max(map(int, docs), default=0))
        return highest


class _IdCounter:
    """The next customer id, a decimal number in a small file rewritten in place under its lock.

    Always fsynced, whatever `synchronous` says: after a power loss it must not hand out an id a
    durable customer file already holds. A counter that is missing or unreadable (a new store, a torn
    write) starts again after the highest id in the customer files."""

    SIZE = 24

    def __init__(self, path: Path, highest: Callable[[], int]) -> None:
        self._file = KeptFile(path, sync=True)  # an id handed out must never be handed out again
        self._highest = highest

    def allocate(self) -> int:
        with self._file.locked() as (fd, _):
            next_id = self._read(fd)
            self._write(fd, next_id + 1)
            return next_id

    def peek(self) -> int:
        with self._file.locked() as (fd, _):
            return self._read(fd)

    def raise_to(self, next_id: int) -> None:
        with self._file.locked() as (fd, _):
            if self._read(fd) < next_id:
                self._write(fd, next_id)

    def close(self) -> None:
        self._file.close()

    def _read(self, fd: int) -> int:
        try:
            value = int(os.pread(fd, self.SIZE, 0))
        except ValueError:
            value = 0
        return value if value > 0 else self._highest() + 1

    def _write(self, fd: int, value: int) -> None:
        self._file.write(fd, fixed_record(b"%d" % value, self.SIZE), 0)


def _customer(customer_id: int, doc: dict[str, Any]) -> Customer:
    return Customer.from_record({**doc, "id": customer_id})
