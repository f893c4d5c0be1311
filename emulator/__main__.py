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
import contextlib
import io
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from customer_auth.errors import CommerceError
from customer_auth.loopback import is_loopback
from customer_auth.store import StoreError
from emulator.bundle import emulator_app, setting_problems
from emulator.environment import EnvFileError, load_env
from emulator.hosts import parse_allowed
from emulator.manifest import Manifest, ManifestError, load_manifest
from emulator.project import DEFAULT_HOST, DEFAULT_PORT, HelpFormatter, at_least, development_env, http_url
from emulator.registry import StateFileError, kept_names
from emulator.rest_api import GUEST_KEY
from emulator.runtime.pool import QUEUE_LENGTH
from emulator.servers import SERVERS, cannot_listen, escape_logs, serve
from emulator.startup import on_startup

PREWARM = 2  # workers per action started ahead of load: each costs about 10 MB and 60 ms of a core
PREWARM_WAIT = 10.0  # seconds a server process waits for its prewarmed workers before it serves


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    """The options, each from its flag, else its environment variable (the environment, then `.env`),
    else its default. A variable that cannot work is refused by name, like a flag."""
    p = argparse.ArgumentParser(prog="emulate", description="Run the App Builder actions on a local OpenWhisk emulator.",
                                formatter_class=HelpFormatter)

    def env(name: str, default: str, convert: Callable[[str], object] = str) -> str:
        value = environ.get(name) or default
        try:
            convert(value)
        except (ValueError, argparse.ArgumentTypeError) as error:
            p.exit(2, f"emulate: {name} (from the environment or .env): {error}\n")
        return value

    p.add_argument("--host", default=env("EMULATOR_HOST", DEFAULT_HOST), help="bind address [EMULATOR_HOST]")
    p.add_argument("--port", type=_port, default=env("EMULATOR_PORT", str(DEFAULT_PORT), _port),
                   help="port [EMULATOR_PORT]")
    p.add_argument("--manifest", default=env("EMULATOR_MANIFEST", "app.config.yaml"),
                   help="App Builder manifest [EMULATOR_MANIFEST]")
    p.add_argument("--workers-per-action", type=_at_least_1, default=env("EMULATOR_WORKERS_PER_ACTION", "4", _at_least_1),
                   help="warm workers at most per action [EMULATOR_WORKERS_PER_ACTION]")
    p.add_argument("--prewarm", type=at_least(0), default=env("EMULATOR_PREWARM", str(PREWARM), at_least(0)),
                   help="workers per action started before any load, as OpenWhisk's prewarmed containers, "
                        "so a first burst finds them warm (at most --workers-per-action; 0: on demand only) "
                        "[EMULATOR_PREWARM]")
    p.add_argument("--queue-length", type=at_least(0), default=env("EMULATOR_QUEUE_LENGTH", str(QUEUE_LENGTH), at_least(0)),
                   help="activations that may wait for a busy worker, per action; one more, or one that waits "
                        "its action's time limit, is answered 429 Too many requests [EMULATOR_QUEUE_LENGTH]")
    p.add_argument("--activations", type=_at_least_1, default=env("EMULATOR_ACTIVATIONS", "1000", _at_least_1),
                   help="activation records kept in memory [EMULATOR_ACTIVATIONS]")
    p.add_argument("--namespace", default=env("OW_NAMESPACE", "guest"), help="OpenWhisk namespace [OW_NAMESPACE]")
    p.add_argument("--auth", default=None,
                   help="the uuid:key the REST API requires as basic auth (default: OpenWhisk's well-known guest "
                        "key) [OW_AUTH]")
    p.add_argument("--state", default=env("EMULATOR_STATE", "") or None, metavar="FILE",
                   help="keep entities deployed through the REST API across restarts: a JSON index in FILE, their "
                        "code in files beside it (default: in memory only, gone when the emulator stops) "
                        "[EMULATOR_STATE]")
    p.add_argument("--allowed-hosts", default=env("EMULATOR_ALLOWED_HOSTS", ""),
                   help="host names besides loopback ones (and PUBLIC_BASE_URL's) that every route but the web "
                        "actions answers to, comma-separated; .example.com allows a domain and its subdomains "
                        "(DNS rebinding: as Vite's server.allowedHosts) [EMULATOR_ALLOWED_HOSTS]")
    p.add_argument("--server", choices=SERVERS, default=env("EMULATOR_SERVER", "flask", _one_of(SERVERS)),
                   help="HTTP server: flask (threaded dev server), or gunicorn or granian (several processes; "
                        "need the 'server' extra) [EMULATOR_SERVER]")
    p.add_argument("--processes", type=_at_least_1, default=env("EMULATOR_PROCESSES", "2", _at_least_1),
                   help="gunicorn, granian: server processes, each with its own controller, workers and "
                        "activation records [EMULATOR_PROCESSES]")
    p.add_argument("--threads", type=_at_least_1, default=env("EMULATOR_THREADS", "8", _at_least_1),
                   help="gunicorn, granian: requests served at once per process [EMULATOR_THREADS]")
    args = p.parse_args(argv)  # argparse applies `type` to string defaults too
    args.auth = args.auth or env("OW_AUTH", GUEST_KEY)
    try:
        args.allowed_hosts = parse_allowed(args.allowed_hosts)
    except ValueError as error:
        p.error(str(error))
    if ":" not in args.auth:
        p.error("--auth / OW_AUTH must be <uuid>:<key>, as wsk's AUTH property")
    if args.auth == GUEST_KEY and not is_loopback(args.host):
        p.error(f"--host {args.host} opens the REST API to the network, and with OpenWhisk's well-known guest "
                "key anyone could run any action there (and get customer tokens without OAuth): set --auth / "
                "OW_AUTH to a key of your own")
    return args


_at_least_1 = at_least(1)


def _port(text: str) -> int:
    value = _at_least_1(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port (1-65535), not {text!r}")
    return value


def _one_of(choices: Sequence[str]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(choices)}, not {text!r}")
        return text

    return check


def needed_extras(argv: Sequence[str] | None) -> str:
    """The pyproject extras a run with these arguments needs, comma-separated ('' for none, and for
    arguments that would not start one): `server` for gunicorn or granian, `postgres` for a
    PostgreSQL STORE_URL, each chosen by a flag, the environment or the project's `.env`.
    scripts/emulate asks, to install them before their first use."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            args = parse_args(argv, load_env(Path.cwd()))
        store_url = load_env(Path(args.manifest).resolve().parent).get("STORE_URL", "")
    except (SystemExit, EnvFileError):  # --help (printed by the run itself), or what the run will refuse
        return ""
    extras = ["server"] if args.server != "flask" else []
    if urlsplit(store_url).scheme in ("postgresql", "postgres"):
        extras.append("postgres")
    return ",".join(extras)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except EnvFileError as error:
        print(f"emulate: {error}", file=sys.stderr)
        return 2


def run(argv: Sequence[str] | None) -> int:
    args = parse_args(argv, load_env(Path.cwd()))  # options may also sit in the project's .env
    escape_logs()
    manifest_path = Path(args.manifest).resolve()
    base_url = http_url(args.host, args.port)
    # The manifest and every setting its actions get are checked before anything is bound or created
    # (a first start's crypt key, store and integration).
    try:
        problems = setting_problems(load_manifest(manifest_path, development_env(manifest_path.parent, create=False)))
    except ManifestError as err:
        problems = [str(err)]
    for problem in problems:
        print(f"emulate: {problem}", file=sys.stderr)
    if problems:
        return 2
    busy = cannot_listen(args.host, args.port)
    if busy:
        print(f"emulate: cannot listen on {args.host}:{args.port}: {busy}", file=sys.stderr)
        return 1
    try:
        manifest = load_manifest(manifest_path, development_env(manifest_path.parent))
    except CommerceError as error:  # the development crypt key cannot be written
        print(f"emulate: {error.reason}", file=sys.stderr)
        return 1
    state = None if (args.state or "none").lower() == "none" else Path(args.state).resolve()

    def build(state_file: Path | None = state, serving: bool = True):
        built = emulator_app(
            manifest, auth=args.auth, bind=args.host, allowed_hosts=args.allowed_hosts, namespace=args.namespace,
            workers_per_action=args.workers_per_action, prewarm=args.prewarm, queue_length=args.queue_length,
            activation_store_size=args.activations, api_host=base_url, state_file=state_file,
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
    except StateFileError as error:
        print(f"emulate: {error}", file=sys.stderr)
        return 2
    except StoreError as error:  # the store's folder cannot be made
        print(f"emulate: {error}", file=sys.stderr)
        return 1
    unusable: StoreError | None = None
    try:
        if store is not None:
            store.check()  # a read-only folder, a damaged file: said now, not on the first exchange
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
    kept = f"kept in {state}" if state else "in memory only (--state FILE keeps them across restarts)"
    lines = [f"{'api host':<13} {base_url}   (wsk property set --apihost {base_url})",
             f"{'auth':<13} {shown}", f"{'deployments':<13} {kept}"]
    shadowing = [name for name in kept_names(state) if manifest.find(name) is not None]
    if shadowing:
        lines.append(f"{'':<13} {len(shadowing)} of them replace the manifest's {', '.join(shadowing)}: "
                     f"settings changed in .env do not reach those (start without --state, or remove "
                     f"{state.name}, to run the manifest's)")
    return lines


if __name__ == "__main__":
    sys.exit(main())
