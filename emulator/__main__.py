"""`python -m emulator`: load the manifest, start the controller, serve HTTP.

Every option can also come from the environment (EMULATOR_HOST, EMULATOR_PORT, EMULATOR_MANIFEST,
EMULATOR_WORKERS_PER_ACTION, EMULATOR_PREWARM, EMULATOR_QUEUE_LENGTH, EMULATOR_ACTIVATIONS,
EMULATOR_STATE, OW_NAMESPACE, OW_AUTH), as
functions-framework does,
so a container or a CI job configures it without flags, and EMULATOR_SERVER, EMULATOR_PROCESSES,
EMULATOR_THREADS choose the HTTP server (emulator/servers.py): Flask's threaded dev server, or gunicorn
or granian with several processes, each with its own controller and warm workers (the first start's
development integration is created once, before the processes start).
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Sequence

from customer_auth.errors import CommerceError
from customer_auth.store import StoreError
from emulator.bundle import emulator_app
from emulator.console.loopback import is_loopback
from emulator.environment import load_env
from emulator.manifest import Manifest, ManifestError, load_manifest
from emulator.project import DEFAULT_HOST, DEFAULT_PORT, development_env
from emulator.registry import kept_names
from emulator.rest_api import GUEST_KEY
from emulator.runtime.pool import QUEUE_LENGTH
from emulator.servers import SERVERS, cannot_listen, serve
from emulator.startup import on_startup

PREWARM = 2  # workers per action started ahead of load: each costs about 10 MB and 60 ms of a core
PREWARM_WAIT = 10.0  # seconds a server process waits for its prewarmed workers before it serves


def parse_args(argv: Sequence[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    def env(name: str, default: str) -> str:
        return environ.get(name) or default

    p = argparse.ArgumentParser(prog="emulate", description="Run the App Builder actions on a local OpenWhisk emulator.")
    p.add_argument("--host", default=env("EMULATOR_HOST", DEFAULT_HOST), help="bind address [EMULATOR_HOST]")
    p.add_argument("--port", type=int, default=env("EMULATOR_PORT", str(DEFAULT_PORT)), help="port [EMULATOR_PORT]")
    p.add_argument("--manifest", default=env("EMULATOR_MANIFEST", "app.config.yaml"),
                   help="App Builder manifest [EMULATOR_MANIFEST]")
    p.add_argument("--workers-per-action", type=int, default=env("EMULATOR_WORKERS_PER_ACTION", "4"),
                   help="warm workers at most per action [EMULATOR_WORKERS_PER_ACTION]")
    p.add_argument("--prewarm", type=int, default=env("EMULATOR_PREWARM", str(PREWARM)),
                   help="workers per action started before any load, as OpenWhisk's prewarmed containers, "
                        "so a first burst finds them warm (at most --workers-per-action; 0: on demand only) "
                        "[EMULATOR_PREWARM]")
    p.add_argument("--queue-length", type=int, default=env("EMULATOR_QUEUE_LENGTH", str(QUEUE_LENGTH)),
                   help="activations that may wait for a busy worker, per action; one more, or one that waits "
                        "its action's time limit, is answered 429 Too many requests [EMULATOR_QUEUE_LENGTH]")
    p.add_argument("--activations", type=int, default=env("EMULATOR_ACTIVATIONS", "1000"),
                   help="activation records kept in memory [EMULATOR_ACTIVATIONS]")
    p.add_argument("--namespace", default=env("OW_NAMESPACE", "guest"), help="OpenWhisk namespace [OW_NAMESPACE]")
    p.add_argument("--auth", default=env("OW_AUTH", GUEST_KEY),
                   help="the uuid:key the REST API requires as basic auth (default: OpenWhisk's guest key) [OW_AUTH]")
    p.add_argument("--state", default=env("EMULATOR_STATE", ".data/openwhisk-entities.json"),
                   help="JSON file keeping entities deployed through the REST API across restarts, relative to "
                        "the working folder; 'none' keeps them in memory only [EMULATOR_STATE]")
    p.add_argument("--server", choices=SERVERS, default=env("EMULATOR_SERVER", "flask"),
                   help="HTTP server: flask (threaded dev server), or gunicorn or granian (several processes; "
                        "need the 'server' extra) [EMULATOR_SERVER]")
    p.add_argument("--processes", type=int, default=env("EMULATOR_PROCESSES", "2"),
                   help="gunicorn, granian: server processes, each with its own controller, workers and "
                        "activation records [EMULATOR_PROCESSES]")
    p.add_argument("--threads", type=int, default=env("EMULATOR_THREADS", "8"),
                   help="gunicorn, granian: requests served at once per process [EMULATOR_THREADS]")
    args = p.parse_args(argv)  # argparse applies type=int to string defaults, so bad env values error cleanly
    if min(args.workers_per_action, args.activations, args.processes, args.threads) < 1:
        p.error("--workers-per-action, --activations, --processes and --threads must be at least 1")
    if min(args.prewarm, args.queue_length) < 0:
        p.error("--prewarm and --queue-length must be at least 0")
    if ":" not in args.auth:
        p.error("--auth must be <uuid>:<key>, as wsk's AUTH property")
    if args.auth == GUEST_KEY and not is_loopback(args.host):
        p.error(f"--host {args.host} opens the REST API to the network, and with OpenWhisk's well-known guest "
                "key anyone could run any action there (and get customer tokens without OAuth): set --auth / "
                "OW_AUTH to a key of your own")
    return args


def chosen_server(argv: Sequence[str] | None) -> str:
    """The HTTP server a run with these arguments would use, from them, the environment or the
    project's `.env` ('' for arguments that would not start one): scripts/emulate asks, to install
    the `server` extra before gunicorn or granian is first used."""
    try:
        return parse_args(argv, load_env(Path.cwd())).server
    except SystemExit:  # --help, or arguments the run itself will refuse
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, load_env(Path.cwd()))  # options may also sit in the project's .env
    busy = cannot_listen(args.host, args.port)
    if busy:
        print(f"emulate: cannot listen on {args.host}:{args.port}: {busy}", file=sys.stderr)
        return 1
    manifest_path = Path(args.manifest).resolve()
    base_url = f"http://{args.host}:{args.port}"
    try:
        manifest = load_manifest(manifest_path, development_env(manifest_path.parent))
    except ManifestError as err:
        print(f"emulate: {err}", file=sys.stderr)
        return 2
    state = None if args.state.lower() in ("", "none") else Path(args.state).resolve()

    def build(state_file: Path | None = state, serving: bool = True):
        built = emulator_app(
            manifest, auth=args.auth, namespace=args.namespace, workers_per_action=args.workers_per_action,
            prewarm=args.prewarm, queue_length=args.queue_length, activation_store_size=args.activations,
            api_host=base_url, state_file=state_file,
        )
        if serving:  # in the process that serves (not for the banner of a forking server): warm, then serve
            built[1].start_prewarmed(wait=PREWARM_WAIT)
        return built

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # gunicorn and granian build an app in each server process, after the fork: the one built here only
    # prints the banner (the manifest's URLs, a first start's integration), without the deployments.
    forked = args.server != "flask"
    try:
        app, controller, store = build(None if forked else state, serving=not forked)
    except CommerceError as error:  # a setting nothing can run with (STORE_URL's scheme, ...): its reason
        print(f"emulate: {error.reason}", file=sys.stderr)
        return 2
    unusable: StoreError | None = None
    try:
        lines = [*api_lines(base_url, args.auth, state, manifest), *on_startup(controller, base_url, store)]
    except StoreError as error:  # the first start's look for integrations: a database down, a schema behind
        unusable = error
    finally:
        if forked or unusable:  # nothing is served by what was built here
            controller.shutdown()
            if store is not None:
                store.close()
    if unusable:
        print(f"emulate: the store cannot be used: {unusable}", file=sys.stderr)
        return 1
    if forked and args.processes > 1:
        lines.append(f"{'server':<13} {args.server}, {args.processes} processes x {args.threads} threads "
                     "(activation records and REST API deployments are per process)")
    for line in lines:
        print(line, flush=True)
    if not forked:
        serve(lambda: app, args.host, args.port, "flask", on_exit=lambda _: controller.shutdown())
    else:
        serve(lambda: build()[0], args.host, args.port, args.server, args.processes, args.threads,
              on_exit=lambda built: built.extensions["openwhisk"].shutdown())
    return 0


def api_lines(base_url: str, auth: str, state: Path | None, manifest: Manifest) -> list[str]:
    """Where `wsk` / the openwhisk npm client point (apihost, auth), a custom key only hinted at; and the
    kept deployments that shadow the manifest's entities (its inputs, from .env, do not reach them)."""
    shown = auth if auth == GUEST_KEY else f"{auth.split(':', 1)[0]}:****  (from --auth / OW_AUTH)"
    kept = f"kept in {state}" if state else "in memory only"
    lines = [f"{'api host':<13} {base_url}   (wsk property set --apihost {base_url})",
             f"{'auth':<13} {shown}", f"{'deployments':<13} {kept}"]
    shadowing = [name for name in kept_names(state) if manifest.find(name) is not None]
    if shadowing:
        lines.append(f"{'':<13} {len(shadowing)} of them replace the manifest's {', '.join(shadowing)}: "
                     f"settings changed in .env do not reach those (--state none, or remove {state.name}, "
                     "to run the manifest's)")
    return lines


if __name__ == "__main__":
    sys.exit(main())
