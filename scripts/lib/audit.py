"""scripts/audit: read the audit trail, newest first: every exchange, who asked, for whom, and how it ended
(refusals before authentication counted per minute)."""
from __future__ import annotations

import argparse
import json
import sys

from customer_auth.audit import OUTCOMES
from customer_auth.printable import printable
from customer_auth.store import open_store
from emulator.project import HelpFormatter, at_least, development_env

import cli
from integration import find


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/audit", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--store-url", help="defaults to STORE_URL from the environment or .env")
    parser.add_argument("--limit", type=at_least(1), default=50, help="newest entries shown")
    parser.add_argument("--integration", help="only this integration (id or name)")
    parser.add_argument("--outcome", choices=OUTCOMES, help="only this outcome")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args(argv)
    store = open_store(args.store_url or development_env()["STORE_URL"])
    integration_id = None
    if args.integration is not None:
        try:
            integration_id = find(store, args.integration).id
        except LookupError as unknown:
            if not args.integration.isdigit():  # an id no longer in the store may still name entries
                raise cli.Failure(str(unknown)) from None
            integration_id = int(args.integration)
    entries = store.audit_entries(args.limit if not args.outcome else 100_000, integration_id)
    if args.outcome:
        entries = [e for e in entries if e["outcome"] == args.outcome][: args.limit]
    for entry in entries:  # printable: the reason and the store quote request text
        print(printable(json.dumps(entry, ensure_ascii=False) if args.json else line(entry)))
    return 0


def line(entry: dict) -> str:
    who = f"{entry['integration_id']}:{entry['integration_name']}" if entry.get("integration_id") else "-"
    customer = "" if entry.get("customer_id") is None else (
        f"customer {entry['customer_id']} ({'created' if entry.get('created') else 'found'})")
    counted = f"{entry['count']} times to {entry['last_at']}" if entry.get("count", 1) > 1 else ""
    details = "  ".join(part for part in (customer, counted, entry.get("reason")) if part)
    return f"{entry['at']}  {entry['outcome']:<12} {who:<24} store {entry.get('store_code') or '-':<10} {details}"


if __name__ == "__main__":
    sys.exit(cli.run(main))
