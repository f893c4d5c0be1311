"""scripts/exchange: the signing client. Sends Commerce's exchangeExternalCustomerToken mutation, signed
with an integration's OAuth 1.0a credentials (HMAC-SHA256), as an App Builder app calls Commerce."""
from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from customer_auth.integrations import CREDENTIAL_KEYS, Integration
from customer_auth.oauth1 import SignedRequest, authorization_header
from customer_auth.store import open_store
from emulator.activations import ACTIVATION_HEADER
from emulator.environment import load_env
from emulator.project import DEFAULT_HOST, DEFAULT_PORT, ROOT, HelpFormatter, development_env, http_url
from emulator.rest_api import GUEST_KEY

import cli
from integration import find

MUTATION = """mutation Exchange($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) {
    customer { email firstname lastname is_subscribed }
    token
  }
}"""


LOG_LINE = re.compile(r"^\S+\s+std(?:out|err): ")  # an activation's log line: time, stream, then the text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/exchange", description=__doc__, formatter_class=HelpFormatter)
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
    parser.add_argument("--credentials", help="a JSON file as printed by `scripts/integration create --json` "
                                              "(default: the integration from the local store)")
    parser.add_argument("--token", action="store_true",
                        help="print only the customer token (for TOKEN=$(scripts/exchange ... --token))")
    parser.add_argument("--auth", help="the emulator's REST API key, to read why an activation refused "
                                       "(default: OW_AUTH from the environment or .env, else OpenWhisk's guest key)")
    args = parser.parse_args(argv)

    env = development_env() if args.url is None or args.credentials is None else load_env(ROOT)
    integration = load_integration(args.credentials, args.integration, env)
    args.url = args.url or default_url(env)
    customer = {"firstname": args.firstname, "lastname": args.lastname, "email": args.email,
                "is_subscribed": args.subscribe}
    graphql = urlsplit(args.url).path.rstrip("/").endswith("graphql")  # /graphql or the graphql web action
    body = {"query": MUTATION, "variables": {"input": {"customer": customer}}} if graphql else {"customer": customer}
    response = send(args.url, body, integration, args.store)
    answer = answer_of(response)
    token = token_of(answer, graphql)
    if args.token and token:
        print(token)
    elif args.token:
        print(json.dumps(answer, ensure_ascii=False), file=sys.stderr)
    else:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    if token:
        return 0
    activation = response.headers.get(ACTIVATION_HEADER, "").split(",")[-1].strip()
    if activation:
        print(why_refused(args.url, activation, args.auth or env.get("OW_AUTH") or GUEST_KEY), file=sys.stderr)
    return 1


def token_of(answer: dict[str, Any], graphql: bool) -> str | None:
    """The customer token of a successful answer (GraphQL's data, or the web sequence's body)."""
    if graphql:
        answer = ((answer.get("data") or {}).get("exchangeExternalCustomerToken") or {}) if not answer.get("errors") else {}
    token = answer.get("token")
    return token if isinstance(token, str) and token else None


def why_refused(url: str, activation_id: str, auth: str) -> str:
    """The refusing activation and its reason, read through the REST API of the server that answered
    (the emulator's key reads it there; a remote OpenWhisk's key is not ours: then only the id)."""
    base = urlunsplit(urlsplit(url)._replace(path="", query="", fragment=""))
    user, _, password = auth.partition(":")

    def record(activation: str) -> dict[str, Any] | None:
        try:
            got = requests.get(f"{base}/api/v1/namespaces/_/activations/{activation}", auth=(user, password),
                               timeout=10)
            return got.json() if got.ok else None
        except (requests.RequestException, ValueError):
            return None

    refusing, found = activation_id, record(activation_id)
    if found and _annotation(found, "kind") == "sequence" and found.get("logs"):
        refusing = str(found["logs"][-1])  # a sequence's logs are its components' ids; the last one stopped it
        found = record(refusing)
    if found is None:
        return (f"activation {activation_id}: its logs hold the reason "
                f"(GET {base}/api/v1/namespaces/_/activations/{activation_id} with the API key)")
    path = _annotation(found, "path") or found.get("name", "")
    return f"activation {refusing} ({str(path).partition('/')[2] or path}) refused: {reason(found)}"


def reason(record: dict[str, Any]) -> str:
    """What an activation's logs say went wrong: its first warning or error line, and for a traceback,
    the exception it ended with; else its result's error."""
    messages = [LOG_LINE.sub("", str(line)) for line in record.get("logs") or []]
    for i, message in enumerate(messages):
        level, _, text = message.partition(" ")
        if level in ("WARNING", "ERROR", "CRITICAL"):
            traceback = any(m.startswith("Traceback") for m in messages[i + 1:])
            return f"{text} ({messages[-1].strip()})" if traceback else text
    error = ((record.get("response") or {}).get("result") or {}).get("error")
    return error if isinstance(error, str) else "no reason in its logs"


def _annotation(record: dict[str, Any], key: str) -> Any:
    return next((a.get("value") for a in record.get("annotations") or [] if a.get("key") == key), None)


def default_url(env: dict[str, str]) -> str:
    return emulator_url(env) + "/graphql"


def emulator_url(env: dict[str, str]) -> str:
    """Where the emulator EMULATOR_HOST and EMULATOR_PORT name answers a client on this machine."""
    host = env.get("EMULATOR_HOST") or DEFAULT_HOST
    host = DEFAULT_HOST if host in ("0.0.0.0", "::") else host  # bound everywhere: reach it on loopback
    return http_url(host, env.get("EMULATOR_PORT") or DEFAULT_PORT)


def send(url: str, body: dict[str, Any], integration: Integration, store: str | None = None) -> requests.Response:
    """The answer to one signed POST."""
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
    return response


def answer_of(response: requests.Response) -> dict[str, Any]:
    """The JSON answer, or an error saying what came instead."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return {"errors": [{"message": f"HTTP {response.status_code}: {response.text[:200]}"}]}
    return answer


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
