"""scripts/integration: manage integrations in the configured store, like Admin > System > Integrations."""
from __future__ import annotations

import argparse
import json
import sys
import time

from customer_auth.integrations import ACTIVE, EXCHANGE_RESOURCE, INACTIVE, Integration
from customer_auth.store import Store, open_store
from emulator.project import HelpFormatter, at_least, development_env

import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/integration", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--store-url", help="defaults to STORE_URL from the environment or .env")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create an integration and print its credentials once",
                                 formatter_class=HelpFormatter)
    create.add_argument("--name", required=True, type=integration_name,
                        help="a name of its own (not blank, not only digits: commands take an id or a name)")
    create.add_argument("--resource", action="append", help=f"ACL resource to grant (default {EXCHANGE_RESOURCE})")
    create.add_argument("--no-permission", action="store_true", help="grant no resource (it cannot exchange)")
    create.add_argument("--json", action="store_true")

    listing = commands.add_parser("list", help="list integrations (secrets masked)", formatter_class=HelpFormatter)
    listing.add_argument("--json", action="store_true")

    for name, text in (("revoke", "revoke the access token"), ("deactivate", "set inactive"),
                       ("activate", "set active and un-revoke"), ("rotate", "issue new credentials")):
        command = commands.add_parser(name, help=text, formatter_class=HelpFormatter)
        command.add_argument("integration", help="id or name")
        command.add_argument("--json", action="store_true")
        if name == "rotate":
            command.add_argument("--grace-minutes", type=at_least(0), default=60,
                                 help="how long the old credentials keep working (0: not at all)")

    args = parser.parse_args(argv)
    store = open_store(args.store_url or development_env()["STORE_URL"])
    try:
        return COMMANDS[args.command](store, args)
    except LookupError as error:  # no such integration, or a name already taken: exit 1, as the other scripts
        raise cli.Failure(str(error)) from None


def create(store: Store, args: argparse.Namespace) -> int:
    resources = [] if args.no_permission else (args.resource or [EXCHANGE_RESOURCE])
    try:
        integration = store.add_integration(Integration(name=args.name, resources=resources))
    except ValueError as error:
        raise LookupError(str(error)) from None
    show(integration.credentials(), args.json)
    return 0


def list_(store: Store, args: argparse.Namespace) -> int:
    rows = [i.summary() for i in store.integrations()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        states = [f"{row['status']}{', revoked' if row['token_revoked'] else ''}" for row in rows]
        width = max(map(len, states), default=0)
        for row, state in zip(rows, states):
            print(f"{row['id']:>4}  {row['name']:<24} {state:<{width}}  key {row['consumer_key']}  "
                  f"{','.join(row['resources'])}")
    return 0


def change(update):
    def command(store: Store, args: argparse.Namespace) -> int:
        integration = find(store, args.integration)
        secrets_shown = update(integration, args)
        store.save_integration(integration)
        show(integration.credentials() if secrets_shown else integration.summary(), args.json)
        return 0

    return command


def _revoke(integration: Integration, args: argparse.Namespace) -> bool:
    integration.token_revoked = True
    return False


def _deactivate(integration: Integration, args: argparse.Namespace) -> bool:
    integration.status = INACTIVE
    return False


def _activate(integration: Integration, args: argparse.Namespace) -> bool:
    integration.status, integration.token_revoked = ACTIVE, False
    return False


def _rotate(integration: Integration, args: argparse.Namespace) -> bool:
    revoked = integration.token_revoked
    if integration.rotate(args.grace_minutes * 60, int(time.time())):
        print("note: the credentials of the earlier rotation, still in their grace period, stop working now "
              "(one previous set is kept)", file=sys.stderr)
    if revoked:
        print("note: the revoked credentials get no grace period", file=sys.stderr)
    return True


def integration_name(text: str) -> str:
    name = text.strip()
    if not name or name.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is blank or only digits, which commands would read as an id")
    return name


def find(store: Store, key: str) -> Integration:
    for integration in store.integrations():
        if str(integration.id) == key or integration.name == key:
            return integration
    raise LookupError(f"no integration with id or name {key!r}")


def show(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
    else:
        for key, value in record.items():
            print(f"{key:>20}: {value}")


COMMANDS = {
    "create": create,
    "list": list_,
    "revoke": change(_revoke),
    "deactivate": change(_deactivate),
    "activate": change(_activate),
    "rotate": change(_rotate),
}

if __name__ == "__main__":
    sys.exit(cli.run(main))
