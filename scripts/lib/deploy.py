"""scripts/deploy: deploy the manifest's package, actions (from dist/, see scripts/package) and sequences
to an OpenWhisk API host through its REST API, as `wsk` does; idempotent (every PUT overwrites).

`--manifest` instead writes the equivalent deployment manifest (dist/manifest.yaml) for teams that
deploy with Adobe's aio CLI (`aio rt deploy -m dist/manifest.yaml`) or wskdeploy (`wskdeploy -m
dist/manifest.yaml`), both run from the folder holding dist/; its inputs keep their `$VAR` references,
so no secret is written to it.
"""
from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

from customer_auth.loopback import is_loopback
from emulator.bundle import setting_problems
from emulator.environment import load_env
from emulator.manifest import Action, Manifest, ManifestError, Sequence, load_manifest
from emulator.project import ROOT, HelpFormatter
from social_login.settings import COMMERCE_GRAPHQL_URL, CREDENTIALS as COMMERCE_CREDENTIALS, ID_PROVIDERS

import cli

# What sign-in needs (the emulator fills in Commerce; a deployment must name it): warned of, not refused,
# as a deployment that does not offer social login yet leaves them unset.
SIGN_IN_SETTINGS = (ID_PROVIDERS.name, COMMERCE_GRAPHQL_URL.name, *COMMERCE_CREDENTIALS.values())


class DeployError(Exception):
    """The deployment cannot go on; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--apihost", help="OpenWhisk API host, e.g. https://openwhisk.example.com (a host without a scheme is "
                             "https, as for wsk)")
    parser.add_argument("--auth", help="API key, uuid:key (as in ~/.wskprops)")
    parser.add_argument("--namespace", default="_", help="the namespace (_: the key's own)")
    parser.add_argument("--app-config", default=str(ROOT / "app.config.yaml"), help="the App Builder manifest")
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="where scripts/package put the zips")
    parser.add_argument("--manifest", action="store_true",
                        help="write dist/manifest.yaml for aio rt deploy and wskdeploy instead")
    parser.add_argument("--insecure", action="store_true", help="do not verify the API host's TLS certificate")
    args = parser.parse_args(argv)
    try:
        if args.manifest:
            path = write_deployment_manifest(Path(args.app_config), Path(args.dist))
            relative = f"{path.parent.name}/{path.name}"
            print(f"wrote {path}\ndeploy it from {path.parent.parent} with either of\n"
                  f"  aio rt deploy -m {relative}\n  wskdeploy -m {relative}\n"
                  "(the settings its inputs name, $STORE_URL and the others, are read from the environment then)")
            return 0
        missing = [flag for flag, value in (("--apihost", args.apihost), ("--auth", args.auth)) if not value]
        if missing:
            parser.error(f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} required (or --manifest)")
        apihost = args.apihost if "://" in args.apihost else f"https://{args.apihost}"  # a bare host, as wsk reads it
        # The environment over .env, as App Builder reads it: never the emulator's development defaults
        # (its TinyDB file and generated crypt key), so a missing setting is refused below.
        manifest = load_manifest(Path(args.app_config), load_env(ROOT))
        check_settings(manifest, apihost)
        client = OpenWhisk(apihost, args.auth, verify=not args.insecure)
        namespace = client.namespace() if args.namespace == "_" else args.namespace
        for line in deploy(manifest, client, namespace, Path(args.dist)):
            print(line, flush=True)
    except (DeployError, ManifestError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    return 0


class OpenWhisk:
    """The part of OpenWhisk's REST API a deployment needs."""

    def __init__(self, apihost: str, auth: str, verify: bool = True) -> None:
        self.base = apihost.rstrip("/") + "/api/v1"
        user, _, password = auth.partition(":")
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.verify = verify

    def namespace(self) -> str:
        namespaces = self._call("GET", "/namespaces")
        if not namespaces:
            raise DeployError("the API key has no namespace")
        return namespaces[0] if isinstance(namespaces[0], str) else namespaces[0]["name"]

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", f"{path}?overwrite=true", json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.base + path, timeout=60, **kwargs)
        except requests.RequestException as error:
            raise DeployError(f"cannot reach {self.base}: {error}") from None
        if response.status_code == 401:
            raise DeployError("the API host refused the key (401): check --auth")
        if response.status_code >= 400:
            raise DeployError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()


def check_settings(manifest: Manifest, apihost: str) -> None:
    """The checks the emulator runs at start, over the values the actions would be deployed with."""
    problems = setting_problems(manifest)
    if problems:
        raise DeployError("; ".join(problems) + " (in the environment or .env); nothing was deployed")
    inputs = {k: v for p in manifest.packages.values() for a in p.actions.values() for k, v in a.inputs.items()}
    unset = [name for name in SIGN_IN_SETTINGS if name in inputs and not inputs[name]]
    if unset:
        print(f"deploy: warning: {', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set: social-login's "
              "sign-in will answer every request with an error until they are (see docs/social-login.md)",
              file=sys.stderr)
    if str(inputs.get("STORE_URL", "")).startswith("tinydb:") and not is_loopback(urlsplit(apihost).hostname or ""):
        print("deploy: warning: STORE_URL is a TinyDB file, which every container would have on its own; "
              "use STORE_URL=postgresql://... for a real deployment", file=sys.stderr)


def deploy(manifest: Manifest, client: OpenWhisk, namespace: str, dist: Path) -> list[str]:
    """PUT every package, action and sequence; return the lines to print (the web URLs)."""
    lines = []
    for package in manifest.packages.values():
        client.put(f"/namespaces/{namespace}/packages/{package.name}",
                   {"namespace": namespace, "name": package.name, "publish": False})
        for action in package.actions.values():
            client.put(f"/namespaces/{namespace}/actions/{action.fqn}", action_body(action, namespace, dist))
            lines.append(_line(client, namespace, action, "action"))
        for sequence in package.sequences.values():
            client.put(f"/namespaces/{namespace}/actions/{sequence.fqn}", sequence_body(sequence, namespace))
            lines.append(_line(client, namespace, sequence, "sequence"))
    return lines


def _line(client: OpenWhisk, namespace: str, entity: Action | Sequence, kind: str) -> str:
    where = client.base.removesuffix("/api/v1") + f"/api/v1/web/{namespace}/{entity.fqn}" if entity.web else "(not web)"
    return f"deployed {kind:<9} {entity.fqn:<45} {where}"


def action_body(action: Action, namespace: str, dist: Path) -> dict[str, Any]:
    zip_path = dist / f"{action.name}.zip"
    if not zip_path.exists():
        raise DeployError(f"{zip_path} is missing: run scripts/package first")
    return {
        "namespace": f"{namespace}/{action.package}",
        "name": action.name,
        "exec": {"kind": action.runtime, "code": base64.b64encode(zip_path.read_bytes()).decode(),
                 "binary": True, "main": action.main},
        "parameters": [{"key": k, "value": v} for k, v in action.inputs.items()],
        "annotations": annotations(action),
        "limits": {"timeout": action.timeout_ms, "memory": action.limits.get("memory", 256),
                   "concurrency": action.limits.get("concurrency", 1)},
    }


def sequence_body(sequence: Sequence, namespace: str) -> dict[str, Any]:
    return {
        "namespace": f"{namespace}/{sequence.package}",
        "name": sequence.name,
        "exec": {"kind": "sequence", "components": [f"/{namespace}/{c}" for c in sequence.components]},
        "annotations": annotations(sequence),
    }


def annotations(entity: Action | Sequence) -> list[dict[str, Any]]:
    values = {**entity.annotations, "web-export": entity.web, "raw-http": entity.raw}
    if entity.web:
        values.setdefault("final", True)
    return [{"key": k, "value": v} for k, v in values.items()]


class _Unresolved(dict):
    """Interpolates `$VAR` to itself, so the deployment manifest keeps references, not values."""

    def get(self, key: str, default: Any = None) -> str:
        return f"${key}"


def write_deployment_manifest(app_config: Path, dist: Path) -> Path:
    """dist/manifest.yaml, which `aio rt deploy -m` and `wskdeploy -m` both deploy when run from the
    folder holding dist/. The two tools read a `function:` path differently: aio from the working
    folder (aio-lib-runtime's createActionObject reads it as given), wskdeploy from the manifest's folder
    (its readActionFunction prefixes it). So each path is `dist/<action>.zip`, and dist/dist/ holds a
    relative link to each zip, through which wskdeploy finds the same file."""
    manifest = load_manifest(app_config, _Unresolved())
    dist = dist.resolve()
    links = dist / dist.name
    packages: dict[str, Any] = {}
    for package in manifest.packages.values():
        packages[package.name] = {
            "actions": {
                action.name: {
                    "function": f"{dist.name}/{action.name}.zip",
                    "runtime": action.runtime,
                    "main": action.main,
                    "inputs": dict(action.inputs),
                    "annotations": {a["key"]: a["value"] for a in annotations(action)},
                    "limits": {"timeout": action.timeout_ms, "memorySize": action.limits.get("memory", 256),
                               "concurrentActivations": action.limits.get("concurrency", 1)},
                }
                for action in package.actions.values()
            },
            "sequences": {
                sequence.name: {
                    "actions": ", ".join(c.split("/", 1)[1] for c in sequence.components),
                    "annotations": {a["key"]: a["value"] for a in annotations(sequence)},
                }
                for sequence in package.sequences.values()
            },
        }
        for action in package.actions.values():
            _link(links / f"{action.name}.zip", Path("..") / f"{action.name}.zip")
    path = dist / "manifest.yaml"
    path.write_text(f"# Deployment manifest written by scripts/deploy --manifest. From the folder holding {dist.name}/:\n"
                    f"#   aio rt deploy -m {dist.name}/manifest.yaml   or   wskdeploy -m {dist.name}/manifest.yaml\n"
                    f"# (wskdeploy reads each function: from this file's folder, through the links in {dist.name}/{dist.name}/)\n"
                    "# $VARs are read from the environment when deploying.\n"
                    + yaml.safe_dump({"packages": packages}, sort_keys=False))
    return path


def _link(link: Path, target: Path) -> None:
    """`link` pointing at `target` (relative to the link's folder), whatever stood there before."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


if __name__ == "__main__":
    sys.exit(cli.run(main))
