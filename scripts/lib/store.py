"""scripts/store: the store's schema and moving data between backends (STORE_URL picks a backend).

  migrate [--url URL]         apply the PostgreSQL schema migrations now. The store also applies
                              them on first use; run this when the actions' database role may not
                              change the schema (then add auto_migrate=0 to their STORE_URL), or
                              to check a new database before deploying. TinyDB needs none.
  copy --from URL --to URL    copy integrations, customers, token revocations and social login's
                              account links, keeping their ids (tokens already issued name customers
                              by id), e.g. from the TinyDB file the emulator used to PostgreSQL, or
                              back. Nonces and ID token uses are not copied: they expire within
                              minutes. The target must be empty: copy refuses one holding any
                              integration, customer, revocation or account link, and has no
                              --force, since ids from two stores cannot be merged safely. Each table
                              is imported in one transaction (one file write for TinyDB); if a copy
                              stops half-way, empty the target (new database or file) and run again.
                              Into PostgreSQL, the id sequences are moved past the copied ids.

URL defaults to STORE_URL from the environment or .env. Progress goes to stderr, the summary to stdout.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

from customer_auth.store import Store, open_store, tinydb_path
from emulator.project import HelpFormatter

import cli

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/store", description=__doc__, formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply PostgreSQL schema migrations now", formatter_class=HelpFormatter)
    migrate.add_argument("--store-url", "--url", dest="url", help="store URL (default: STORE_URL), as the other scripts take it")
    copy = commands.add_parser("copy", help="copy integrations, customers, revocations and account links, keeping ids",
                               formatter_class=HelpFormatter)
    copy.add_argument("--from", dest="source", required=True, metavar="URL")
    copy.add_argument("--to", dest="target", required=True, metavar="URL")
    args = parser.parse_args(argv)
    return run_migrate(args.url or default_url()) if args.command == "migrate" else run_copy(args.source, args.target)


def default_url() -> str:
    if os.environ.get("STORE_URL"):
        return os.environ["STORE_URL"]
    from emulator.project import development_env

    return development_env()["STORE_URL"]


def run_migrate(url: str) -> int:
    store: Any = open_store(url)
    if not hasattr(store, "migrate"):
        print("this backend has no schema to migrate")
        return 0
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    print(f"applied migrations {', '.join(map(str, applied))}; " if applied else "nothing to apply; ", end="")
    print(f"schema at version {version}")
    return 0


def run_copy(source_url: str, target_url: str) -> int:
    if source_url == target_url:
        raise cli.Failure("--from and --to name the same store")
    if source_url.startswith("tinydb:") and not tinydb_exists(tinydb_path(source_url)):
        raise cli.Failure(f"no TinyDB store at {tinydb_path(source_url)} (--from)")
    source, target = open_store(source_url), open_store(target_url)
    try:
        if not is_empty(target):
            raise cli.Failure("the target store is not empty (copy only fills an empty store; see --help)")
        integrations = source.integrations()
        revocations = list(source.revocations())
        links = list(source.account_links())
        try:
            counts = {
                "integrations": target.import_integrations(progress("integrations", integrations, len(integrations))),
                "customers": target.import_customers(progress("customers", source.customers(),
                                                              source.customer_count())),
                "revocations": target.import_revocations(progress("revocations", revocations, len(revocations))),
                "account links": target.import_account_links(progress("account links", links, len(links))),
            }
        except ValueError as conflict:  # the source holds what cannot go in together (a duplicate, an id taken)
            raise cli.Failure(f"the copy stopped: {conflict} (empty the target before another try)") from None
    finally:
        source.close()
        target.close()
    print("copied " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return 0


def tinydb_exists(path: str) -> bool:
    """A TinyDB store is its main file and the files and folders named after its stem (customers, ...)."""
    main = Path(path)
    return main.exists() or any(main.parent.glob(glob.escape(main.stem) + ".*"))


def is_empty(store: Store) -> bool:
    return (not store.integrations() and store.customer_count() == 0 and next(iter(store.revocations()), None) is None
            and next(iter(store.account_links()), None) is None)


def progress(label: str, items: Iterable[T], total: int, stream: TextIO = sys.stderr) -> Iterator[T]:
    """Yields items while drawing `label [#####-----] n/total` on stream (redrawn at most 10 times a
    second on a terminal; one line at the end otherwise)."""
    bar = ProgressBar(label, total, stream)
    for item in items:
        yield item
        bar.advance()
    bar.finish()


class ProgressBar:
    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.done, self.started, self.drawn_at = 0, time.monotonic(), 0.0
        self.live = stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.live and now - self.drawn_at >= 0.1:
            self.drawn_at = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(("\r" if self.live else "") + self.line() + f" {time.monotonic() - self.started:.1f}s\n")
        self.stream.flush()

    def line(self) -> str:
        total = max(self.total, self.done)
        filled = self.WIDTH if total == 0 else self.WIDTH * self.done // total
        return f"{self.label:<13}[{'#' * filled}{'-' * (self.WIDTH - filled)}] {self.done}/{total}"


if __name__ == "__main__":
    sys.exit(cli.run(main))
