"""The embedded store: TinyDB files, safe for several processes and for crashes.

- Every write happens inside a transaction holding a cross-process file lock; it re-reads the file,
  applies its changes in memory and writes the whole file once, to a temporary file that is fsynced
  and renamed over the old one. A crash leaves either the old file or the new one, never half of one.
- Reads take no lock: the file is replaced atomically, so a reader sees one whole version. The parsed
  data is kept and re-read only when the file's identity (inode, mtime, size) changes.
- Lookups by email, consumer key and access token go through in-memory indexes rebuilt only when the
  data changes, so an existing customer is found without scanning the table.
- Nonces are written on every request, so they live apart from the customers, sharded by a hash of
  (consumer key, nonce) over small TinyDB files (`<name>.nonces/00.json` .. `31.json`), each with its
  own lock: a request rewrites one small file, and requests on different shards do not wait for each
  other. The rate-limit buckets have a small file of their own (`<name>.buckets.json`). A nonce file
  of the earlier layout (`<name>.nonces.json`) is moved into the shards on first use.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

try:
    import fcntl
except ImportError:  # not POSIX: filelock's polling lock
    fcntl = None  # type: ignore[assignment]
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from ..customers import Customer, email_key
from ..integrations import Integration
from .base import Admission, RateLimit, Revocation, StoreError, take_token

INTEGRATIONS = "integrations"
CUSTOMERS = "customers"
REVOCATIONS = "revocations"
NONCES = "nonces"
BUCKETS = "rate_buckets"
NONCE_SHARDS = 32


class AtomicJSONStorage(Storage):
    """TinyDB storage writing whole files atomically, re-reading only what changed on disk."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._data: dict[str, Any] | None = None
        self._signature: tuple[int, int, int] | None = None
        self._in_transaction = False
        self._pinned = False
        self._dirty = False
        self.generation = 0  # bumped whenever the data may have changed

    def read(self) -> dict[str, Any] | None:
        if not (self._in_transaction or self._pinned):
            self._load(force=False)
        return self._data

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One look at the file for a whole lookup: the index and the document come from one version."""
        if not self._in_transaction:  # inside a transaction the data in memory is the truth
            self._load(force=False)
        self._pinned = True
        try:
            yield
        finally:
            self._pinned = False

    def write(self, data: dict[str, Any]) -> None:
        if not self._in_transaction:
            raise RuntimeError("TinyDB writes must happen inside a store transaction")
        self._data = data
        self._dirty = True
        self.generation += 1

    def close(self) -> None:
        pass

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Fresh read, then one atomic write of everything changed; the caller holds the file lock."""
        self._load(force=True)
        self._in_transaction, self._dirty = True, False
        try:
            yield
            if self._dirty:
                self._write_file(self._data or {})
        except BaseException:
            self._signature = None  # what is in memory may be half-applied: re-read next time
            raise
        finally:
            self._in_transaction = False

    def _load(self, force: bool) -> None:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if not force and signature == self._signature:
                    return
                raw = handle.read()
        except FileNotFoundError:
            if self._data is not None or self._signature is not None:
                self.generation += 1
            self._data, self._signature = None, None
            return
        try:
            self._data = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            raise StoreError(f"the store file {self.path} is not valid JSON: {exc}") from None
        self._signature = signature
        self.generation += 1

    def _write_file(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                # json.dumps, not json.dump: only dumps uses the C encoder (dump to a file is pure Python)
                handle.write(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        stat = os.stat(self.path)
        self._signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class _BlockingFileLock:
    """A cross-process exclusive lock on `path` (flock). A waiter sleeps in the kernel and wakes as
    soon as the holder releases, where filelock's FileLock polls every 50 ms: under contention (every
    request takes the buckets' lock) that poll was most of an exchange's time. The lock file is opened
    on each acquire, so a forked child never shares its parent's lock. The holder's death releases it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0  # re-entered by the thread holding it (callers hold a per-object RLock)

    def __enter__(self) -> None:
        self._depth += 1
        if self._depth > 1:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            self._depth -= 1
            raise
        self._fd = fd

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _file_lock(path: str) -> Any:
    """Used under a per-object threading lock, so one holder per process at a time."""
    return _BlockingFileLock(path) if fcntl is not None else FileLock(path, thread_local=False)


class _Database:
    """One TinyDB file with its lock: `read()` for lookups, `write()` for a transaction."""

    def __init__(self, path: Path) -> None:
        self._db = TinyDB(str(path), storage=AtomicJSONStorage)
        self.storage: AtomicJSONStorage = self._db.storage  # type: ignore[assignment]
        self._file_lock = _file_lock(f"{path}.lock")
        self._mutex = threading.RLock()

    def table(self, name: str) -> Table:
        # No query cache: another process may have changed the file since the last query.
        table = self._db.table(name, cache_size=0)
        table._next_id = None  # recomputed from the data, never from a stale in-memory counter
        return table

    @contextmanager
    def read(self) -> Iterator[_Database]:
        with self._mutex, self.storage.snapshot():
            yield self

    @contextmanager
    def write(self) -> Iterator[_Database]:
        with self._mutex, self._file_lock, self.storage.transaction():
            yield self


class _Indexes:
    """Secondary indexes over the main file, rebuilt when its data generation changes."""

    def __init__(self) -> None:
        self.generation = -1
        self.customer_by_email: dict[tuple[int, str], int] = {}
        self.integration_by_consumer_key: dict[str, int] = {}
        self.integration_by_access_token: dict[str, int] = {}

    def refresh(self, db: _Database) -> _Indexes:
        data = db.storage.read() or {}  # first: reading is what notices another process's write
        if self.generation == db.storage.generation:
            return self
        self.customer_by_email = {
            (doc["website_id"], email_key(doc["email"])): int(doc_id)
            for doc_id, doc in data.get(CUSTOMERS, {}).items()
        }
        integrations = data.get(INTEGRATIONS, {})
        self.integration_by_consumer_key = {d["consumer_key"]: int(i) for i, d in integrations.items()}
        self.integration_by_access_token = {d["access_token"]: int(i) for i, d in integrations.items()}
        for i, d in integrations.items():  # a rotated-out token stays findable during its grace period
            if d.get("previous"):
                self.integration_by_access_token.setdefault(d["previous"]["access_token"], int(i))
        self.generation = db.storage.generation
        return self


class TinyDBStore:
    """The `Store` interface over TinyDB files."""

    def __init__(self, path: str) -> None:
        main = Path(path)
        suffix = main.suffix or ".json"
        self._main = _Database(main)
        self._nonce_dir = main.with_name(main.stem + ".nonces")
        self._nonce_shards: dict[int, _Database] = {}  # opened on first use: opening costs nothing
        self._shards_lock = threading.Lock()
        self._legacy_nonces: Path | None = main.with_name(main.stem + ".nonces" + suffix)
        self._buckets = _Database(main.with_name(main.stem + ".buckets" + suffix))
        self._audit = _AuditFile(main.with_name(main.stem + ".audit.jsonl"))
        self._indexes = _Indexes()

    # Integrations ----------------------------------------------------------------------------
    def add_integration(self, integration: Integration) -> Integration:
        with self._main.write() as db:
            table = db.table(INTEGRATIONS)
            if table.search(Query().name == integration.name):
                raise ValueError(f"an integration named {integration.name!r} already exists")
            integration.id = table.insert(_record(integration))
        return integration

    def save_integration(self, integration: Integration) -> None:
        with self._main.write() as db:
            db.table(INTEGRATIONS).upsert(Document(_record(integration), doc_id=integration.id))

    def integration(self, integration_id: int) -> Integration | None:
        with self._main.read() as db:
            doc = db.table(INTEGRATIONS).get(doc_id=integration_id)
            return _integration(doc)

    def integration_by_consumer_key(self, consumer_key: str) -> Integration | None:
        with self._main.read() as db:
            doc_id = self._indexes.refresh(db).integration_by_consumer_key.get(consumer_key)
            return None if doc_id is None else _integration(db.table(INTEGRATIONS).get(doc_id=doc_id))

    def integration_by_access_token(self, access_token: str) -> Integration | None:
        with self._main.read() as db:
            doc_id = self._indexes.refresh(db).integration_by_access_token.get(access_token)
            return None if doc_id is None else _integration(db.table(INTEGRATIONS).get(doc_id=doc_id))

    def integrations(self) -> list[Integration]:
        with self._main.read() as db:
            docs = sorted(db.table(INTEGRATIONS).all(), key=lambda doc: doc.doc_id)
            return [i for doc in docs if (i := _integration(doc))]

    # Nonces and rate limits -------------------------------------------------------------------
    def admit(self, consumer_key: str, nonce: str | None, timestamp: int, expire_before: int,
              limit: RateLimit | None, now: float) -> Admission:
        # The nonce first, under its shard's lock: a replayed nonce returns before the bucket is
        # touched, so it takes no token. Then the bucket, under the buckets' lock.
        if nonce is not None:
            self._migrate_legacy_nonces()
            key = f"{consumer_key}:{nonce}"
            with self._nonce_shard(key).write() as db:
                if not _use_nonce(db.storage, key, timestamp, expire_before):
                    return Admission.REPLAYED
        if limit is None:
            return Admission.ACCEPTED
        with self._buckets.write() as db:
            data = db.storage.read() or {}
            table = data.setdefault(BUCKETS, {})
            doc_id = next((i for i, doc in table.items() if doc.get("key") == consumer_key), None)
            taken, bucket = take_token(None if doc_id is None else table[doc_id], limit, now)
            table[doc_id or str(_next_doc_id(table))] = {"key": consumer_key, **bucket}
            db.storage.write(data)
        return Admission.ACCEPTED if taken else Admission.RATE_LIMITED

    def _nonce_shard(self, key: str) -> _Database:
        shard = zlib.crc32(key.encode("utf-8")) % NONCE_SHARDS  # stable across processes, unlike hash()
        db = self._nonce_shards.get(shard)
        if db is None:
            with self._shards_lock:
                db = self._nonce_shards.get(shard)
                if db is None:
                    db = self._nonce_shards[shard] = _Database(self._nonce_dir / f"{shard:02d}.json")
        return db

    def _migrate_legacy_nonces(self) -> None:
        """Nonces of the one-file layout move into the shards (once, by whichever process comes first;
        every other process waits on the old file's lock, then finds it gone)."""
        legacy = self._legacy_nonces
        if legacy is None:
            return
        if legacy.exists():
            old = _Database(legacy)
            with old.write() as db:
                docs = list(((db.storage.read() or {}).get(NONCES) or {}).values())
                by_shard: dict[int, list[dict[str, Any]]] = {}
                for doc in docs:
                    by_shard.setdefault(zlib.crc32(doc["key"].encode("utf-8")) % NONCE_SHARDS, []).append(doc)
                for docs_of_shard in by_shard.values():
                    with self._nonce_shard(docs_of_shard[0]["key"]).write() as shard:
                        for doc in docs_of_shard:
                            _use_nonce(shard.storage, doc["key"], doc["timestamp"], 0)
                legacy.unlink(missing_ok=True)
        self._legacy_nonces = None

    # Customers -------------------------------------------------------------------------------
    def customer(self, customer_id: int) -> Customer | None:
        with self._main.read() as db:
            return _customer(db.table(CUSTOMERS).get(doc_id=customer_id))

    def find_customer(self, website_id: int, email: str) -> Customer | None:
        with self._main.read() as db:
            return self._find(db, website_id, email)

    def find_or_create_customer(self, candidate: Customer) -> tuple[Customer, bool]:
        existing = self.find_customer(candidate.website_id, candidate.email)
        if existing:
            return existing, False
        with self._main.write() as db:  # decide again under the lock: another process may have won
            existing = self._find(db, candidate.website_id, candidate.email)
            if existing:
                return existing, False
            candidate.id = db.table(CUSTOMERS).insert(_record(candidate))
            return candidate, True

    def save_customer(self, customer: Customer) -> None:
        with self._main.write() as db:
            db.table(CUSTOMERS).upsert(Document(_record(customer), doc_id=customer.id))

    def customer_count(self) -> int:
        with self._main.read() as db:
            return len(db.table(CUSTOMERS))

    def _find(self, db: _Database, website_id: int, email: str) -> Customer | None:
        doc_id = self._indexes.refresh(db).customer_by_email.get((website_id, email_key(email)))
        return None if doc_id is None else _customer(db.table(CUSTOMERS).get(doc_id=doc_id))

    # Revocations -----------------------------------------------------------------------------
    def revoke_tokens(self, user_type: int, user_id: int, revoke_before: int) -> None:
        revocation = Query()
        with self._main.write() as db:
            db.table(REVOCATIONS).upsert(
                {"user_type": user_type, "user_id": user_id, "revoke_before": revoke_before},
                (revocation.user_type == user_type) & (revocation.user_id == user_id),
            )

    def revoked_before(self, user_type: int, user_id: int) -> int | None:
        revocation = Query()
        with self._main.read() as db:
            doc = db.table(REVOCATIONS).get(
                (revocation.user_type == user_type) & (revocation.user_id == user_id)
            )
            return None if doc is None else int(doc["revoke_before"])  # type: ignore[index]

    # Bulk import and export ----------------------------------------------------------------
    def import_integrations(self, integrations: Iterable[Integration]) -> int:
        items = list(integrations)
        with self._main.write() as db:
            table = db.table(INTEGRATIONS)
            names = {doc["name"] for doc in table.all()}
            for integration in items:
                if integration.name in names:
                    raise ValueError(f"an integration named {integration.name!r} already exists")
                names.add(integration.name)
            _insert_keeping_ids(table, items)
        return len(items)

    def import_customers(self, customers: Iterable[Customer]) -> int:
        items = list(customers)
        with self._main.write() as db:
            table = db.table(CUSTOMERS)
            keys = {(doc["website_id"], email_key(doc["email"])) for doc in table.all()}
            for item in items:
                key = (item.website_id, item.email_key)
                if key in keys:
                    raise ValueError(f"a customer with email {item.email!r} already exists in website {item.website_id}")
                keys.add(key)
            _insert_keeping_ids(table, items)
        return len(items)

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

    def customers(self) -> Iterator[Customer]:
        with self._main.read() as db:
            docs = sorted(db.table(CUSTOMERS).all(), key=lambda doc: doc.doc_id)
        return (c for doc in docs if (c := _customer(doc)))

    def revocations(self) -> Iterator[Revocation]:
        with self._main.read() as db:
            docs = db.table(REVOCATIONS).all()
        rows = sorted(Revocation(int(d["user_type"]), int(d["user_id"]), int(d["revoke_before"])) for d in docs)
        return iter(rows)

    # Audit trail -----------------------------------------------------------------------------
    def append_audit(self, entry: dict[str, Any]) -> None:
        self._audit.append(entry)

    def audit_entries(self, limit: int = 100, integration_id: int | None = None) -> list[dict[str, Any]]:
        return self._audit.newest(limit, integration_id)

    def close(self) -> None:
        pass


class _AuditFile:
    """The audit trail as JSON lines, appended under a file lock and fsynced: a crash loses no entry
    that was acknowledged, and a torn last line (a crash mid-write) is skipped when reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = _file_lock(f"{path}.lock")
        self._mutex = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._mutex, self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def newest(self, limit: int, integration_id: int | None) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if integration_id is None or entry.get("integration_id") == integration_id:
                entries.append(entry)
                if len(entries) >= limit:
                    break
        return entries


def _use_nonce(storage: AtomicJSONStorage, key: str, timestamp: int, expire_before: int) -> bool:
    """Inside a transaction on a nonce shard: True (and recorded) if `key` is not there unexpired.
    Expired nonces are purged in the same pass; the shard is small, so a scan costs little."""
    data = storage.read() or {}
    table = data.get(NONCES) or {}
    live = {doc_id: doc for doc_id, doc in table.items() if doc["timestamp"] >= expire_before}
    if any(doc["key"] == key for doc in live.values()):
        if len(live) != len(table):
            data[NONCES] = live
            storage.write(data)
        return False
    live[str(_next_doc_id(table))] = {"key": key, "timestamp": timestamp}
    data[NONCES] = live
    storage.write(data)
    return True


def _next_doc_id(table: dict[str, Any]) -> int:
    return max(map(int, table), default=0) + 1


def _insert_keeping_ids(table: Table, items: list[Any]) -> None:
    """One table update for all items: given ids are kept (ValueError if taken), the others follow
    the highest id. Sets each item's id."""
    taken = {doc.doc_id for doc in table.all()}
    given = [item.id for item in items if item.id is not None]
    if len(given) != len(set(given)) or taken.intersection(given):
        raise ValueError("an imported id is already taken")
    next_id = max(taken | set(given), default=0) + 1
    for item in items:
        if item.id is None:
            item.id, next_id = next_id, next_id + 1
    table.insert_multiple([Document(_record(item), doc_id=item.id) for item in items])


def _record(entity: Customer | Integration) -> dict[str, Any]:
    record = entity.to_record()
    record.pop("id", None)  # the TinyDB document id is the entity id
    return record


def _integration(doc: Any) -> Integration | None:
    return None if doc is None else Integration.from_record({**doc, "id": doc.doc_id})


def _customer(doc: Any) -> Customer | None:
    return None if doc is None else Customer.from_record({**doc, "id": doc.doc_id})
