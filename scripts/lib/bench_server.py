"""The server scripts/bench measures: the emulator as `scripts/emulate --server ...` serves it (the same
app and server), plus two reference endpoints in the same app:

- `/__bench/ping`, a bare Flask JSON endpoint: the ceiling of the server itself;
- `/__bench/graphql-in-process`: the same GraphQL route and facade over the same store, but the
  sequence's three `main`s called in the server process, with no worker process and no activation
  record: what the exchange costs without the emulator's OpenWhisk runtime.

    python scripts/lib/bench_server.py --port P --server granian --processes 2 --threads 8 --workers-per-action 2 \
        --prewarm 2 --queue-length 64
Settings (STORE_URL, CRYPT_KEY, ...) come from the environment, as for the emulator.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any, Callable

from flask import jsonify

from customer_auth.graphql import EXCHANGE_SEQUENCE, GraphQLFacade

from emulator.__main__ import PREWARM_WAIT
from emulator.bundle import bundle_settings, emulator_app
from emulator.graphql_routes import register as register_graphql
from emulator.manifest import load_manifest
from emulator.project import ROOT, development_env
from emulator.servers import SERVERS, serve

PING = "/__bench/ping"
IN_PROCESS = "/__bench/graphql-in-process"


def load_main(action: Any) -> Any:
    """An action's `main`, imported in this process from its manifest file."""
    spec = importlib.util.spec_from_file_location(f"bench_{action.name.replace('-', '_')}", action.function)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def compose(manifest: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The exchange sequence as plain function calls in this process: each step's result is the next
    one's params (over its own inputs), and the first error ends it, as in the sequence."""
    sequence = manifest.find(EXCHANGE_SEQUENCE)
    steps = [(action.inputs, load_main(action)) for action in map(manifest.find, sequence.components)]

    def run(params: dict[str, Any]) -> dict[str, Any]:
        payload = {**sequence.inputs, **params}
        for inputs, main in steps:
            payload = main({**inputs, **payload})
            if "error" in payload:
                break
        return payload

    return run


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server", choices=SERVERS, required=True)
    p.add_argument("--processes", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--workers-per-action", type=int, required=True)
    p.add_argument("--prewarm", type=int, required=True)
    p.add_argument("--queue-length", type=int, required=True)
    args = p.parse_args()
    manifest = load_manifest(ROOT / "app.config.yaml", development_env(ROOT))
    base_url = f"http://127.0.0.1:{args.port}"

    def build():
        app, controller, store = emulator_app(manifest, workers_per_action=args.workers_per_action,
                                              prewarm=args.prewarm, queue_length=args.queue_length,
                                              api_host=base_url, state_file=None)
        controller.start_prewarmed(wait=PREWARM_WAIT)
        app.add_url_rule(PING, "bench_ping", lambda: jsonify(ok=True))
        run = compose(manifest)
        facade = GraphQLFacade(bundle_settings(manifest), lambda _fqn, params: run(params))
        register_graphql(app, lambda: facade, url=IN_PROCESS, name="bench_in_process")
        return app

    serve(build, "127.0.0.1", args.port, args.server, args.processes, args.threads,
          on_exit=lambda a: a.extensions["openwhisk"].shutdown(), quiet=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("EMULATOR_STATE", "none")
    sys.exit(main())
