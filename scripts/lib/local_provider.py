"""scripts/local-provider: a real OpenID provider on this machine, to try social login without an account
anywhere: panva's OpenID Certified oidc-provider (the one the tests sign in at), with its development
login form, where any login name and any password sign in. `ada` signs in as ada@example.com (verified),
Ada Example; a login that is an email signs in as that email.

Its one client (default `storefront`, no secret) may use the implicit id_token flow and the code flow with
PKCE, and is sent back to the emulator's console (EMULATOR_HOST and EMULATOR_PORT, from the environment or
.env), where "Sign in with a provider" starts. Its signing keys are made at each start; the emulator
fetches the new ones when a token names them (at most once a JWKS_REFETCH_SECONDS).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from customer_auth.loopback import is_loopback
from emulator.environment import load_env
from emulator.project import DEFAULT_HOST, DEFAULT_PORT, ROOT, HelpFormatter, at_least, http_url

import cli
from npm import NpmUnavailable, npm_packages

PROVIDER_DIR = ROOT / "tests" / "social" / "provider"
DEFAULT_PROVIDER_PORT = 9081


def main(argv: list[str] | None = None) -> int:
    env = load_env(ROOT)
    parser = argparse.ArgumentParser(prog="scripts/local-provider", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--port", type=at_least(1), default=env.get("LOCAL_PROVIDER_PORT") or DEFAULT_PROVIDER_PORT,
                        help="where it listens on 127.0.0.1 [LOCAL_PROVIDER_PORT]")
    parser.add_argument("--client-id", default="storefront", help="its client's id")
    parser.add_argument("--redirect-uri", action="append", metavar="URL",
                        help="where it may send the browser back (repeatable; default: the emulator's console)")
    args = parser.parse_args(argv)
    redirects = args.redirect_uri or console_urls(env)
    issuer = f"http://127.0.0.1:{args.port}"
    try:
        packages = npm_packages(PROVIDER_DIR, show_progress=True)
    except NpmUnavailable as error:
        raise cli.Failure(str(error)) from None
    settings = json.dumps({"local": {"issuer": issuer, "client_ids": [args.client_id]}})
    for line in [
        f"{'provider':<10} {issuer}   (log in with any name and any password)",
        f"{'client id':<10} {args.client_id}   (sent back to {', '.join(redirects)})",
        "",
        "Sign in with it: set this in .env (or the environment) and restart ./scripts/emulate,",
        f"  ID_PROVIDERS='{settings}'",
        "then open the console's \"Sign in with a provider\", or send an ID token with ./scripts/sign-in.",
        "",
    ]:
        print(line, flush=True)
    clients = json.dumps([{"client_id": args.client_id, "redirect_uris": redirects}])
    provider = {"PORT": str(args.port), "ISSUER": issuer, "CLIENTS": clients, "PACKAGES": str(packages)}
    os.execvpe("node", ["node", str(PROVIDER_DIR / "provider.mjs")], {**os.environ, **provider})


def console_urls(env: dict[str, str]) -> list[str]:
    """The console's URL as a browser on this machine opens it, under both loopback names."""
    host = env.get("EMULATOR_HOST") or DEFAULT_HOST
    port = env.get("EMULATOR_PORT") or DEFAULT_PORT
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        return [http_url(host, port) + "/"]
    return [f"http://127.0.0.1:{port}/", f"http://localhost:{port}/"]


if __name__ == "__main__":
    sys.exit(cli.run(main))
