"""The server scripts/bench measures: the emulator as `scripts/emulate` serves it (same server, same
processes), plus two reference endpoints in the same app:

- `/__bench/ping`, a bare Flask JSON endpoint: the ceiling of the server itself;
- `/__bench/graphql-in-process`: the same GraphQL facade over the same store, but the sequence's
  three `main`s called in the server process, with no worker process and no activation record:
  what the exchange costs without the emulator's OpenWhisk runtime.

    python scripts/lib/bench_server.py --port P --server gunicorn --processes 2 --threads 8 --workers-per-action 4
Settings (STORE_URL, CRYPT_KEY, ...) come from the environment, as for the emulator.
"""
from __future__ import annotations

import argparse
import os
import sys

import importlib.util
from typing import Any

from flask import Response, jsonify, request

from customer_auth.graphql import GraphQLFacade

from emulator.bundle import bundle_settings, emulator_app
from emulator.manifest import load_manifest
from emulator.project import ROOT, development_env
from emulator.servers import SERVERS, serve

PING = "/__bench/ping"
IN_PROCESS = "/__bench/graphql-in-process"
SEQUENCE = "customer-auth/exchange-external-customer-token"


def load_main(action: Any) -> Any:
    """An action's `main`, imported in this process from its manifest file."""
    spec = importlib.util.spec_from_file_location(f"bench_{action.name.replace('-', '_')}", action.function)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def in_process_facade(manifest: Any) -> GraphQLFacade:
    """The facade invoking the sequence as plain function calls: each step's result is the next one's
    params (over its own inputs), and the first error ends it, as in the sequence."""
    sequence = manifest.find(SEQUENCE)
    steps = [(action.inputs, load_main(action)) for action in map(manifest.find, sequence.components)]

    def invoke(fqn: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = {**sequence.inputs, **params}
        for inputs, main in steps:
            payload = main({**inputs, **payload})
            if "error" in payload:
                break
        return payload

    return GraphQLFacade(bundle_settings(manifest), invoke)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server", choices=SERVERS, default="gunicorn")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--workers-per-action", type=int, default=4)
    args = p.parse_args()
    manifest = load_manifest(ROOT / "app.config.yaml", development_env(ROOT))
    base_url = f"http://127.0.0.1:{args.port}"

    def build():
        app, controller, store = emulator_app(manifest, workers_per_action=args.workers_per_action,
                                              api_host=base_url, state_file=None)
        app.add_url_rule(PING, "bench_ping", lambda: jsonify(ok=True))
        facade = in_process_facade(manifest)

        def in_process() -> Response:
            headers = {**request.headers, "X-Forwarded-Proto": request.scheme}
            status, out_headers, body = facade.handle(request.method, request.path, "", headers, request.get_data())
            return Response(body, status=status, headers=out_headers)

        app.add_url_rule(IN_PROCESS, "bench_in_process", in_process, methods=["POST"])
        return app

    if args.server == "flask":
        app = build()
        serve(lambda: app, "127.0.0.1", args.port, "flask", on_exit=lambda a: a.extensions["openwhisk"].shutdown())
    else:
        serve(build, "127.0.0.1", args.port, args.server, args.processes, args.threads,
              on_exit=lambda a: a.extensions["openwhisk"].shutdown(), quiet=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("EMULATOR_STATE", "none")
    sys.exit(main())
