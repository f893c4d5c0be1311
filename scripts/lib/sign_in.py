"""scripts/sign-in: sign in with an OpenID Connect ID token, as a storefront does. Posts
{"provider", "id_token", "nonce", "customer"} to social-login's sign-in web sequence and shows the ID
token decoded (not verified here: the sequence verifies it), the account link the sign-in went by, and
the Commerce customer token. The ID token is read from standard input unless --id-token gives it (a
token on the command line is kept in the shell's history).

  ./scripts/sign-in --provider google --nonce NONCE < id_token.txt
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from emulator.activations import ACTIVATION_HEADER
from emulator.project import HelpFormatter, development_env

import cli
from exchange import emulator_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/sign-in", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--provider", required=True, help="a provider name ID_PROVIDERS holds (google, local...)")
    parser.add_argument("--id-token", help="the ID token (default: read from standard input)")
    parser.add_argument("--nonce", help="the nonce the client sent to the provider, if it sent one")
    parser.add_argument("--firstname", help="for a token without given_name (Apple sends names only to the client)")
    parser.add_argument("--lastname", help="for a token without family_name")
    parser.add_argument("--subscribe", action="store_true", help="is_subscribed: true")
    parser.add_argument("--store", help="Store header (store code)")
    parser.add_argument("--url", help="the sign-in web sequence's URL (default: the emulator's, at EMULATOR_HOST and "
                                      "EMULATOR_PORT from the environment or .env, namespace OW_NAMESPACE)")
    parser.add_argument("--json", action="store_true", help="print only the sequence's JSON answer")
    args = parser.parse_args(argv)

    id_token = (args.id_token if args.id_token is not None else read_token()).strip()
    env = development_env() if args.url is None else {}
    url = args.url or f"{emulator_url(env)}/api/v1/web/{env.get('OW_NAMESPACE') or 'guest'}/social-login/sign-in"
    customer: dict[str, Any] = {k: v for k, v in (("firstname", args.firstname), ("lastname", args.lastname)) if v}
    if args.subscribe:
        customer["is_subscribed"] = True
    body: dict[str, Any] = {"provider": args.provider, "id_token": id_token}
    if args.nonce:
        body["nonce"] = args.nonce
    if customer:
        body["customer"] = customer
    try:
        response = requests.post(url, json=body, headers={"Store": args.store} if args.store else {}, timeout=70)
    except requests.ConnectionError:
        raise cli.Failure(f"nothing answers at {url} (is the emulator running? ./scripts/emulate)") from None
    except requests.RequestException as error:
        raise cli.Failure(f"{url}: {error}") from None
    try:
        answer = response.json()
    except ValueError:
        raise cli.Failure(f"{url} answered HTTP {response.status_code}, not JSON: {response.text[:200]}") from None
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        show(id_token, url, response, answer)
    return 0 if response.status_code == 200 else 1


def read_token() -> str:
    if sys.stdin.isatty():
        print("Paste the ID token, then press Enter:", file=sys.stderr)
        return sys.stdin.readline()
    return sys.stdin.read()


def show(id_token: str, url: str, response: requests.Response, answer: dict[str, Any]) -> None:
    try:
        signed = extract_compact(id_token.encode("ascii"))
        print("ID token (decoded here; the sign-in sequence verifies it)")
        print("  header " + json.dumps(signed.headers()))
        print("  claims " + json.dumps(json.loads(signed.payload), indent=2, ensure_ascii=False).replace("\n", "\n  "))
    except (JoseError, ValueError, UnicodeError):
        print("ID token: not a compact JWS (the sign-in sequence says more)")
    activation = response.headers.get(ACTIVATION_HEADER, "")
    print(f"\nPOST {url}: HTTP {response.status_code}" + (f" (activation {activation})" if activation else ""))
    link = answer.get("link")
    if response.status_code == 200 and isinstance(link, dict):
        state = "first sign-in of this subject, now linked" if link.get("new") else f"linked since {link.get('linked_at')}"
        print(f"account link: subject {link.get('subject')} of {link.get('issuer')}: {state} to {link.get('email')}")
        print("customer: " + json.dumps(answer.get("customer"), ensure_ascii=False))
        print(f"Commerce customer token:\n{answer.get('token')}")
        return
    for error in answer.get("errors") or [answer]:
        code = (error.get("extensions") or {}).get("code", "") if isinstance(error, dict) else ""
        print(f"refused: {code or 'error'}: {error.get('message', error) if isinstance(error, dict) else error}")
    if activation:
        print(f"why: the failing step's activation log says (sequence activation {activation}; the emulator's "
              f"console shows its steps at {url.split('/api/v1/web/')[0]}/#activations)")


if __name__ == "__main__":
    sys.exit(cli.run(main))
