"""The server scripts/bench measures: the emulator as `scripts/emulate` serves it (same server, same
processes), plus `/__bench/ping`, a bare Flask JSON endpoint in the same app, as the ceiling.

    python scripts/lib/bench_server.py --port P --server gunicorn --processes 2 --threads 8 --workers-per-action 4
Settings (STORE_URL, CRYPT_KEY, ...) come from the environment, as for the emulator.
"""
from __future__ import annotations

import argparse
import os
import sys

from flask import jsonify

from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from emulator.project import ROOT, development_env
from emulator.servers import SERVERS, serve

PING = "/__bench/ping"


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
        return app

    if args.server == "flask":
        app = build()
        serve(lambda: app, "127.0.0.1", args.port, "flask", on_exit=lambda a: a.extensions["openwhisk"].shutdown())
    else:
        serve(build, "127.0.0.1", args.port, "gunicorn", args.processes, args.threads,
              on_exit=lambda a: a.extensions["openwhisk"].shutdown(), quiet=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("EMULATOR_STATE", "none")
    sys.exit(main())
