"""The embedded store: TinyDB files and small journals beside them, safe for several processes and
for crashes.

`STORE_URL=tinydb:///path/store.json` names the main file; the others live beside it:

- `store.json`: integrations and token revocations (what every process reads), a TinyDB file.
- `store.customers/000.json` .. `255.json`: the customers, TinyDB files too, each customer in the one
  chosen by a hash of its (website, email): creating a customer rewrites 1/256 of them, a lookup by
  email reads one file, and a process that never looks at customers never reads them (a lookup by
  id reads them all, the first time). Ids come from the counter `store.customers/next_id` (see
  tinydb_customers.py).
- `store.nonces/00.jsonl` .. `31.jsonl`: each nonce's use, appended to the journal chosen by a hash
  of (consumer key, nonce), compacted when most of its lines have expired (see journal.py).
- `store.buckets/<sha256 of the consumer key>`: each integration's rate-limit bucket, one
  fixed-width JSON record rewritten in place.
- `store.audit.jsonl`: the audit trail, one JSON line per entry.
- `store.links/00.json` .. `63.json`: social login's account links, TinyDB files too, each link in the
  one chosen by a hash of its (issuer, subject) (see tinydb_links.py).
- `store.id_tokens/00.jsonl` .. `31.jsonl`: each ID token's one use, journals like the nonces',
  a use kept until the token expires.

The TinyDB files: every write happens inside a transaction holding a cross-process lock
(`<file>.lock`); it re-reads the file, applies its changes in memory and writes the whole file once,
to a temporary file that is fsynced and renamed over the old one (then the directory is fsynced). A
crash leaves either the old file or the new one, never half of one. Reads take no lock: a reader sees
one whole version, parsed once and re-read only when the file's identity (inode, mtime, size)
changes; lookups by email, consumer key and access token go through in-memory indexes.

The journals, buckets and audit trail change on every request: each process keeps them open and
changes them in place under `flock` on the file itself, with one write (an append, or a `pwrite` of
the whole record); no temporary file, no rename, no other file to lock.

Durability, the `synchronous` parameter of the URL (SQLite's words), e.g.
`tinydb:///path/store.json?synchronous=full`:

- `normal` (the default): those appends and records are not fsynced. They survive a killed process
  (the data is in the kernel's page cache), but an OS crash or a power loss can lose the last seconds
  of them: nonces used then could be replayed within the timestamp window, buckets refill, audit
  entries go missing.
- `full`: each of those writes is fsynced before the request goes on (a few milliseconds each on
  most disks).

The TinyDB files (integrations, customers, revocations) and the customer id counter are fsynced in
both modes.

Files of earlier layouts are moved into this one by the first process to use the store (others
wait, or find the work done): customers kept in `store.json` move to the customer files; the nonces
of `store.nonces/NN.json` (TinyDB shards) and of `store.nonces.json` (one file) move into the
journals; `store.buckets.json` is dropped (every bucket starts full again). Processes running code of
an earlier layout must be stopped first.

A copy or a backup of the store is all these files, taken together while no process writes.
Needs a POSIX system (`flock`, `pread`, `pwrite`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query
from tinydb.table import Document

from ..customers import Customer
from ..errors import ConfigurationError
from ..integrations import Integration
from .base import AccountLink, Admission, RateLimit, Revocation, StoreError, take_token
from .journal import AuditJournal, NonceJournal
from .tinydb_customers import CUSTOMERS, CustomerShards
from .tinydb_files import (
    Database, KeptFile, OnFirstUse, assign_ids, fixed_record, read_table, shard_of, stored_fields,
)
from .tinydb_links import AccountLinkShards

INTEGRATIONS = "integrations"
REVOCATIONS = "revocations"
NONCES = "nonces"  # the table of the earlier layouts' nonce files
NONCE_SHARDS = 32
ID_TOKEN_SHARDS = 32
SYNCHRONOUS = ("normal", "full")

F = TypeVar("F", bound=Callable[..., Any])


def _files(method: F) -> F:
    """A file or folder the method cannot use (a read-only folder, another user's file) is a
    StoreError naming it, as any other store failure: the client sees `Internal server error`."""

    @functools.wraps(method)
    def run(self: TinyDBStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as error:
            raise StoreError(_unusable(error)) from None

    return run  # type: ignore[return-value]


def _upgraded(method: F) -> F:
    """The method runs on the current layout: a process's first call moves earlier layouts' files."""

    @functools.wraps(method)
    def run(self: TinyDBStore, *args: Any, **kwargs: Any) -> Any:
        if not self._upgraded:
            self._upgrade()
        return method(self, *args, **kwargs)

    return _files(run)  # type: ignore[arg-type]


def _unusable(error: OSError) -> str:
    where = f" {error.filename}" if error.filename else ""
    return f"cannot use the store's file or folder{where}: {error.strerror or error}"


class _Indexes:
    """Secondary indexes over the integrations and the revocations, rebuilt when the main file's data
    generation changes."""

    def __init__(self) -> None:
        self.generation = -1
        self.integration_by_consumer_key: dict[str, int] = {}
        self.integration_by_access_token: dict[str, int] = {}
        self.revoked_before: dict[tuple[int, int], int] = {}

    def refresh(self, db: Database) -> _Indexes:
        data = db.storage.read() or {}  # the snapshot this read or write holds (db.read() loaded it)
        if self.generation == db.storage.generation:
            return self
        integrations = data.get(INTEGRATIONS, {})
        self.integration_by_consumer_key = {d["consumer_key"]: int(i) for i, d in integrations.items()}
        self.integration_by_access_token = {d["access_token"]: int(i) for i, d in integrations.items()}
        for i, d in integrations.items():  # a rotated-out token stays findable during its grace period
            if d.get("previous"):
                self.integration_by_access_token.setdefault(d["previous"]["access_token"], int(i))
        self.revoked_before = {(int(d["user_type"]), int(d["user_id"])): int(d["revoke_before"])
                               for d in data.get(REVOCATIONS, {}).values()}
        self.generation = db.storage.generation
        return self


class TinyDBStore:
    """The `Store` interface over TinyDB files and journals."""

    def __init__(self, path: str, synchronous: str = "normal") -> None:
        if synchronous.lower() not in SYNCHRONOUS:
            raise ConfigurationError(f"setting STORE_URL has synchronous={synchronous!r}; "
                                     f"a tinydb: store takes {' or '.join(SYNCHRONOUS)}")
        sync = synchronous.lower() == "full"
        main = Path(path)

        def beside(suffix: str) -> Path:
            return main.with_name(main.stem + suffix)

        self._path = main
        customers, self._nonce_dir, buckets, links, id_token_dir = (
            beside(suffix) for suffix in (".customers", ".nonces", ".buckets", ".links", ".id_tokens"))
        self._folders = [customers, self._nonce_dir, buckets, links, id_token_dir]
        self._main = Database(main)
        self._indexes = _Indexes()
        self._customers = CustomerShards(customers)
        self._journals: OnFirstUse[int, NonceJournal] = OnFirstUse(
            lambda shard: NonceJournal(self._nonce_dir / f"{shard:02d}.jsonl", self._sync))
        self._sync = sync
        self._buckets = _Buckets(buckets, sync)
        self._audit = AuditJournal(beside(".audit.jsonl"), sync)
        self._links = AccountLinkShards(links)
        self._id_token_journals: OnFirstUse[int, NonceJournal] = OnFirstUse(
            lambda shard: NonceJournal(id_token_dir / f"{shard:02d}.jsonl", sync))
        old_suffix = main.suffix or ".json"
        self._old_nonces = beside(".nonces" + old_suffix)
        self._old_buckets = beside(".buckets" + old_suffix)
        self._upgraded = False
        self._upgrade_lock = threading.Lock()

    # Integrations ----------------------------------------------------------------------------
    @_upgraded
    def add_integration(self, integration: Integration) -> Integration:
        with self._main.write() as db:
            table = db.table(INTEGRATIONS)
            if table.search(Query().name == integration.name):
                raise ValueError(f"an integration named {integration.name!r} already exists")
            integration.id = table.insert(stored_fields(integration))
        return integration

    @_upgraded
    def save_integration(self, integration: Integration) -> None:
        with self._main.write() as db:
            db.table(INTEGRATIONS).upsert(Document(stored_fields(integration), doc_id=integration.id))  # type: ignore[arg-type]

    @_upgraded
    def integration(self, integration_id: int) -> Integration | None:
        with self._main.read() as db:
            return _integration(db.table(INTEGRATIONS).get(doc_id=integration_id))

    @_upgraded
    def integration_by_consumer_key(self, consumer_key: str) -> Integration | None:
        with self._main.read() as db:
            doc_id = self._indexes.refresh(db).integration_by_consumer_key.get(consumer_key)
            return None if doc_id is None else _integration(db.table(INTEGRATIONS).get(doc_id=doc_id))

    @_upgraded
    def integration_by_access_token(self, access_token: str) -> Integration | None:
        with self._main.read() as db:
            doc_id = self._indexes.refresh(db).integration_by_access_token.get(access_token)
            return None if doc_id is None else _integration(db.table(INTEGRATIONS).get(doc_id=doc_id))

    @_upgraded
    def integrations(self) -> list[Integration]:
        with self._main.read() as db:
            docs = sorted(db.table(INTEGRATIONS).all(), key=lambda doc: doc.doc_id)
            return [i for doc in docs if (i := _integration(doc))]

    # Nonces and rate limits -------------------------------------------------------------------
    @_upgraded
    def admit(self, consumer_key: str, nonce: str | None, timestamp: int, expire_before: int,
              limit: RateLimit | None, now: float) -> Admission:
        # The nonce first, under its journal's lock: a replayed nonce returns before the bucket is
        # touched, so it takes no token. Then the bucket, under its own file's lock.
        if nonce is not None:
            key = f"{consumer_key}:{nonce}"
            if not self._journals[_nonce_shard(key)].admit(key, timestamp, expire_before):
                return Admission.REPLAYED
        if limit is None:
            return Admission.ACCEPTED
        return Admission.ACCEPTED if self._buckets.take(consumer_key, limit, now) else Admission.RATE_LIMITED

    # Customers -------------------------------------------------------------------------------
    @_upgraded
    def customer(self, customer_id: int) -> Customer | None:
        return self._customers.get(customer_id)

    @_upgraded
    def find_customer(self, website_id: int, email: str) -> Customer | None:
        return self._customers.find(website_id, email)

    @_upgraded
    def find_or_create_customer(self, candidate: Customer) -> tuple[Customer, bool]:
        return self._customers.find_or_create(candidate)

    @_upgraded
    def save_customer(self, customer: Customer) -> None:
        self._customers.save(customer)

    @_upgraded
    def customer_count(self) -> int:
        return self._customers.count()

    # Revocations -----------------------------------------------------------------------------
    @_upgraded
    def revoke_tokens(self, user_type: int, user_id: int, revoke_before: int) -> None:
        revocation = Query()
        with self._main.write() as db:
            db.table(REVOCATIONS).upsert(
                {"user_type": user_type, "user_id": user_id, "revoke_before": revoke_before},
                (revocation.user_type == user_type) & (revocation.user_id == user_id),
            )

    @_upgraded
    def revoked_before(self, user_type: int, user_id: int) -> int | None:
        with self._main.read() as db:
            return self._indexes.refresh(db).revoked_before.get((user_type, user_id))

    # Bulk import and export ----------------------------------------------------------------
    @_upgraded
    def import_integrations(self, integrations: Iterable[Integration]) -> int:
        items = list(integrations)
        with self._main.write() as db:
            table = db.table(INTEGRATIONS)
            docs = table.all()
            names = {doc["name"] for doc in docs}
            for integration in items:
                if integration.name in names:
                    raise ValueError(f"an integration named {integration.name!r} already exists")
                names.add(integration.name)
            assign_ids(items, {doc.doc_id for doc in docs})
            table.insert_multiple([Document(stored_fields(item), doc_id=item.id) for item in items])
        return len(items)

    @_upgraded
    def import_customers(self, customers: Iterable[Customer]) -> int:
        return self._customers.import_customers(list(customers))

    @_upgraded
    def import_revocations(self, revocations: Iterable[Revocation]) -> int:
        items = [Revocation(*item) for item in revocations]
        with self._main.write() as db:
            table = db.table(REVOCATIONS)
            keys = {(doc["user_type"], doc["user_id"]) for doc in table.all()}
            for item in items:
                if (item.user_type, item.user_id) in keys:
                    raise ValueError(f"a revocation for user {item.user_type}/{item.user_id} already exists")
                keys.add((item.user_type, item.user_id))
            table.insert_multiple([item._asdict() for item in items])
        return len(items)

    @_upgraded
    def customers(self) -> Iterator[Customer]:
        return iter(self._customers.all())

    @_upgraded
    def revocations(self) -> Iterator[Revocation]:
        with self._main.read() as db:
            docs = db.table(REVOCATIONS).all()
        rows = sorted(Revocation(int(d["user_type"]), int(d["user_id"]), int(d["revoke_before"])) for d in docs)
        return iter(rows)

    # Audit trail -----------------------------------------------------------------------------
    @_files
    def append_audit(self, entry: dict[str, Any]) -> None:
        self._audit.append(entry)

    @_files
    def audit_entries(self, limit: int = 100, integration_id: int | None = None) -> list[dict[str, Any]]:
        return self._audit.newest(limit, integration_id)

    # Start -----------------------------------------------------------------------------------
    @_upgraded
    def check(self) -> None:
        """Each folder the store writes in takes a new file, each file it changes in place opens for
        writing, each TinyDB file parses (the customers' too: all read, once, at start)."""
        folders = [self._path.parent, *self._folders]
        for folder in (f for f in folders if f.is_dir()):
            try:
                fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
            except OSError as error:
                raise StoreError(f"cannot write in the store's folder {folder}: {error.strerror or error}") from None
            os.close(fd)
            os.unlink(probe)
        kept = [p for folder in self._folders if folder.is_dir() for p in folder.iterdir() if p.is_file()]
        for path in [self._path, self._audit.path, *kept]:
            if path.exists():
                os.close(os.open(path, os.O_RDWR))
        with self._main.read():  # parses the main file
            pass
        self._customers.count()  # and every customers file
        self._links.all()  # and every account links file

    # Social login ------------------------------------------------------------------------------
    @_upgraded
    def account_link(self, issuer: str, subject: str) -> AccountLink | None:
        return self._links.get(issuer, subject)

    @_upgraded
    def link_account(self, link: AccountLink) -> tuple[AccountLink, bool]:
        return self._links.link(link)

    @_upgraded
    def email_linked(self, email: str) -> bool:
        return self._links.email_linked(email)

    @_upgraded
    def use_id_token(self, key: str, expires_at: int, now: int) -> bool:
        # A nonce journal whose "timestamp" is the expiry: a use is live while it has not expired.
        return self._id_token_journals[shard_of(key, ID_TOKEN_SHARDS)].admit(key, expires_at, now)

    @_upgraded
    def import_account_links(self, links: Iterable[AccountLink]) -> int:
        return self._links.import_links([AccountLink(*link) for link in links])

    @_upgraded
    def account_links(self) -> Iterator[AccountLink]:
        return iter(self._links.all())

    def close(self) -> None:
        """Closes the files this process keeps open; using the store again reopens them."""
        for journal in [*self._journals.values(), *self._id_token_journals.values()]:
            journal.close()
        self._buckets.close()
        self._audit.close()
        self._customers.close()

    # Earlier layouts ---------------------------------------------------------------------------
    def _upgrade(self) -> None:
        with self._upgrade_lock:
            if self._upgraded:
                return
            self._move_customers()
            self._move_nonces()
            for path in (self._old_buckets, Path(f"{self._old_buckets}.lock")):
                path.unlink(missing_ok=True)  # the buckets start full again
            Path(f"{self._audit.path}.lock").unlink(missing_ok=True)  # the audit file is its own lock now
            self._upgraded = True

    def _move_customers(self) -> None:
        """Customers kept in the main file move to the customer files, ids kept. The main file drops
        them only after that, in one atomic write: a crash in between means moving them again."""
        with self._main.read() as db:
            if CUSTOMERS not in (db.storage.read() or {}):
                return
        with self._main.write() as db:  # every other process's upgrade waits here
            data = db.storage.read() or {}
            docs = data.pop(CUSTOMERS, None)
            if docs is None:
                return  # moved by another process while this one waited
            self._customers.adopt(docs)
            db.storage.write(data)

    def _move_nonces(self) -> None:
        """Nonces of the earlier TinyDB files move into the journals, then the file is removed. Two
        processes moving one file at once record its uses twice, which changes nothing; one that finds
        the file gone knows its uses are in the journals."""
        for old in [self._old_nonces, *sorted(self._nonce_dir.glob("*.json"))]:
            docs = read_table(old, NONCES)
            if docs is None:
                continue
            by_shard: dict[int, list[tuple[str, int]]] = {}
            for doc in docs.values():
                by_shard.setdefault(_nonce_shard(doc["key"]), []).append((doc["key"], int(doc["timestamp"])))
            for shard, uses in by_shard.items():
                self._journals[shard].add(uses)
            old.unlink(missing_ok=True)
            Path(f"{old}.lock").unlink(missing_ok=True)


class _Buckets:
    """The rate-limit buckets: a file per integration (named by a hash of its consumer key) holding
    one fixed-width JSON record, rewritten whole by one `pwrite` under the file's lock when a token is
    taken (a refusal changes nothing worth keeping: the bucket refills from the same record). A record
    that does not parse (a torn write, after an OS crash) counts as a full bucket, and is rewritten."""

    SIZE = 96

    def __init__(self, directory: Path, sync: bool) -> None:
        self._files: OnFirstUse[str, KeptFile] = OnFirstUse(lambda consumer_key: KeptFile(
            directory / hashlib.sha256(consumer_key.encode("utf-8")).hexdigest(), sync=sync))

    def take(self, consumer_key: str, limit: RateLimit, now: float) -> bool:
        file = self._files[consumer_key]
        with file.locked() as (fd, _):
            stored = _bucket(os.pread(fd, self.SIZE, 0))
            taken, bucket = take_token(stored, limit, now)
            if taken or stored is None:
                file.write(fd, fixed_record(json.dumps(bucket, separators=(",", ":")).encode("ascii"), self.SIZE), 0)
        return taken

    def close(self) -> None:
        for file in self._files.values():
            file.close()


def _bucket(raw: bytes) -> dict[str, float] | None:
    """The stored bucket, or None (a full one) for an empty or unreadable record."""
    try:
        record = json.loads(raw)
        bucket = {"tokens": float(record["tokens"]), "updated": float(record["updated"])}
    except (ValueError, KeyError, TypeError):
        return None
    return bucket if all(map(math.isfinite, bucket.values())) else None


def _nonce_shard(key: str) -> int:
    return shard_of(key, NONCE_SHARDS)


def _integration(doc: Any) -> Integration | None:
    return None if doc is None else Integration.from_record({**doc, "id": doc.doc_id})
