"""The TinyDB backend's account links (social login): 64 TinyDB files (`NN.json`, table
`account_links`), a link in the file chosen by a hash of its (issuer, subject), so that a sign-in reads
one file and a first sign-in rewrites 1/64 of the links. Whether an email is linked at all looks at
every file, through an index per file rebuilt only when that file changed.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ..customers import email_key
from .base import AccountLink
from .tinydb_files import Database, OnFirstUse, shard_of

LINKS = "account_links"
LINK_SHARDS = 64


def _key(issuer: str, subject: str) -> str:
    return json.dumps([issuer, subject], ensure_ascii=False)


class _Shard:
    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self._generation = -1
        self._emails: set[str] = set()

    # Inside db.read() or db.write():
    def docs(self) -> dict[str, dict[str, Any]]:
        return (self.db.storage.read() or {}).get(LINKS) or {}

    def get(self, issuer: str, subject: str) -> AccountLink | None:
        doc = self.docs().get(_key(issuer, subject))
        return None if doc is None else AccountLink(**doc)

    def emails(self) -> set[str]:
        docs = self.docs()
        if self._generation != self.db.storage.generation:
            self._emails = {email_key(doc["email"]) for doc in docs.values()}
            self._generation = self.db.storage.generation
        return self._emails

    # Inside db.write():
    def put(self, link: AccountLink) -> None:
        data = self.db.storage.read() or {}
        data.setdefault(LINKS, {})[_key(link.issuer, link.subject)] = link._asdict()
        self.db.storage.write(data)


class AccountLinkShards:
    """The account-link part of the `Store` interface over the files in `directory`."""

    def __init__(self, directory: Path) -> None:
        self._shards: OnFirstUse[int, _Shard] = OnFirstUse(lambda number: _Shard(directory / f"{number:02d}.json"))

    def get(self, issuer: str, subject: str) -> AccountLink | None:
        shard = self._shard_for(issuer, subject)
        with shard.db.read():
            return shard.get(issuer, subject)

    def link(self, link: AccountLink) -> tuple[AccountLink, bool]:
        existing = self.get(link.issuer, link.subject)
        if existing is not None:
            return existing, False
        shard = self._shard_for(link.issuer, link.subject)
        with shard.db.write():  # decide again under the lock: another process may have linked it
            existing = shard.get(link.issuer, link.subject)
            if existing is not None:
                return existing, False
            shard.put(link)
        return link, True

    def email_linked(self, email: str) -> bool:
        wanted = email_key(email)
        for shard in self._all():
            with shard.db.read():
                if wanted in shard.emails():
                    return True
        return False

    def import_links(self, links: list[AccountLink]) -> int:
        """Checked whole before anything is written (a subject linked already, or twice, is a
        ValueError); then each file written atomically."""
        if not links:
            return 0
        with self._all_written():
            seen = set()
            for link in links:
                key = (link.issuer, link.subject)
                if key in seen or self._shard_for(*key).get(*key) is not None:
                    raise ValueError(f"the subject {link.subject!r} of {link.issuer} is linked already")
                seen.add(key)
            for link in links:
                self._shard_for(link.issuer, link.subject).put(link)
        return len(links)

    def all(self) -> list[AccountLink]:
        found: list[AccountLink] = []
        for shard in self._all():
            with shard.db.read():
                found.extend(AccountLink(**doc) for doc in shard.docs().values())
        return sorted(found, key=lambda link: (link.issuer, link.subject))

    @contextmanager
    def _all_written(self) -> Iterator[None]:
        with ExitStack() as transactions:
            for shard in self._all():  # ascending: the lock order
                transactions.enter_context(shard.db.write())
            yield

    def _shard_for(self, issuer: str, subject: str) -> _Shard:
        return self._shards[shard_of(_key(issuer, subject), LINK_SHARDS)]

    def _all(self) -> list[_Shard]:
        return [self._shards[number] for number in range(LINK_SHARDS)]
