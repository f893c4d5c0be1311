"""scripts/exchange: the signing client. Sends the seed's exchangeExternalCustomerToken mutation, signed
with an integration's OAuth 1.0a credentials (HMAC-SHA256), as an App Builder app calls Commerce."""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from customer_auth.integrations import CREDENTIAL_KEYS, Integration
from customer_auth.oauth1 import SignedRequest, authorization_header
from customer_auth.store import open_store
from emulator.project import DEFAULT_HOST, DEFAULT_PORT, development_env

import cli
from integration import find

MUTATION = """mutation Exchange($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) {
    customer { email firstname lastname is_subscribed }
    token
  }
}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/exchange", description=__doc__)
    parser.add_argument("--email", required=True)
    parser.add_argument("--firstname", required=True)
    parser.add_argument("--lastname", required=True)
    parser.add_argument("--subscribe", action="store_true", help="is_subscribed: true")
    parser.add_argument("--url",
                        help="a GraphQL endpoint (/graphql, the graphql web action) or the web sequence's URL "
                             "(then the body is the mutation's input as JSON); default: the emulator's /graphql "
                             "at EMULATOR_HOST and EMULATOR_PORT from the environment or .env")
    parser.add_argument("--store", help="Store header (store code)")
    parser.add_argument("--integration", help="id or name of an integration in the local store (default: the first active)")
    parser.add_argument("--credentials", help="a JSON file as printed by `scripts/integration create --json`")
    args = parser.parse_args(argv)

    env = development_env() if args.url is None or args.credentials is None else {}
    integration = load_integration(args.credentials, args.integration, env)
    args.url = args.url or default_url(env)
    customer = {"firstname": args.firstname, "lastname": args.lastname, "email": args.email,
                "is_subscribed": args.subscribe}
    graphql = urlsplit(args.url).path.rstrip("/").endswith("graphql")  # /graphql or the graphql web action
    body = {"query": MUTATION, "variables": {"input": {"customer": customer}}} if graphql else {"customer": customer}
    status, answer = send(args.url, body, integration, args.store)
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 1 if status >= 400 or "errors" in answer or "error" in answer else 0


def default_url(env: dict[str, str]) -> str:
    return emulator_url(env) + "/graphql"


def emulator_url(env: dict[str, str]) -> str:
    """Where the emulator EMULATOR_HOST and EMULATOR_PORT name answers a client on this machine."""
    host = env.get("EMULATOR_HOST") or DEFAULT_HOST
    host = DEFAULT_HOST if host in ("0.0.0.0", "::") else host  # bound everywhere: reach it on loopback
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"http://{host}:{env.get('EMULATOR_PORT') or DEFAULT_PORT}"


def send(url: str, body: dict[str, Any], integration: Integration, store: str | None = None
         ) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON answer) of one signed POST."""
    payload = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    request = SignedRequest(method="POST", url=url, headers={"content-type": "application/json"}, body=payload)
    headers["Authorization"] = authorization_header(request, integration, int(time.time()), secrets.token_hex(16))
    if store:
        headers["Store"] = store
    try:
        response = requests.post(url, data=payload, headers=headers, timeout=70)
    except requests.ConnectionError:
        raise cli.Failure(f"nothing answers at {url} (is the emulator running? ./scripts/emulate)") from None
    except requests.RequestException as error:
        raise cli.Failure(f"{url}: {error}") from None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"errors": [{"message": f"HTTP {response.status_code}: {response.text[:200]}"}]}


def load_integration(credentials_file: str | None, key: str | None, env: dict[str, str]) -> Integration:
    """From the credentials file, else from the store `env` names (the development settings)."""
    if credentials_file:
        with open(credentials_file, encoding="utf-8") as handle:
            try:
                record = json.load(handle)
            except ValueError as error:
                raise cli.Failure(f"{credentials_file} is not JSON ({error})") from None
        missing = [k for k in CREDENTIAL_KEYS if not isinstance(record, dict) or not record.get(k)]
        if missing:
            raise cli.Failure(f"{credentials_file} lacks {', '.join(missing)}: "
                             "use the output of scripts/integration create --json")
        return Integration.from_record({"name": credentials_file, **record})  # the name only labels it
    store = open_store(env["STORE_URL"])
    try:
        return find(store, key) if key else next(i for i in store.integrations() if i.is_usable)
    except (LookupError, StopIteration):
        raise cli.Failure(f"no {'integration ' + repr(key) if key else 'active integration'} in the store; "
                          "create one with scripts/integration create --name NAME") from None


if __name__ == "__main__":
    sys.exit(cli.run(main))
