"""Entities deployed through the REST API: packages, actions and sequences, beside the manifest.

OpenWhisk keeps entities in its database (CouchDB); this registry keeps them in memory, gone when the
emulator stops, unless it is given a state file (`--state FILE`): then a restart keeps deployments, in
a small JSON index (FILE) with each action's code in a file of its own beside it (`<FILE's stem>.code/`,
named by its SHA-256, so an unchanged zip is never written twice). It speaks OpenWhisk's entity
documents (WhiskPackage / WhiskAction as the REST API returns them) and turns each deployed action
into the runtime's `Action` / `Sequence`, so the controller runs it like a manifest action:
a zip (`binary: true`) is unpacked once into its own folder, plain code becomes `__main__.py`, and
the worker runs isolated from the emulator's packages (see `emulator.runtime.containers`).
The rules (409 without overwrite, update keeps what the PUT omits, a package holding entities may
not be deleted, sequence checks) and their messages are OpenWhisk's (Actions.scala, Packages.scala,
ApiUtils.scala, ErrorResponse.scala). No HTTP library in here: errors are `ApiError`s with a status.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import re
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from customer_auth.store.tinydb_files import replace_file
from emulator.manifest import (
    LIMIT_RULES, MAX_SEQUENCE_LENGTH, PYTHON_KINDS, Action, Manifest, Sequence, every_limit, is_binary_code,
    truthy,
)
from emulator.web_actions import RESOURCE_DOES_NOT_EXIST

RESOURCE_EXISTS = "resource already exists"  # ApiUtils.putEntity's RejectRequest(Conflict, ...)
SEQUENCE_COMPONENT_NOT_FOUND = "Sequence component does not exist."
SEQUENCE_TOO_LONG = "Too many actions in the sequence."
SEQUENCE_NO_COMPONENT = "No component specified for the sequence."
SEQUENCE_CYCLIC = "Sequence may not refer to itself."
EXEC_UNDEFINED = "exec undefined"
MANIFEST_READ_ONLY = "'{}' is defined by the manifest (app.config.yaml); change it there."
MAX_CODE_BYTES = 48 * 1024 * 1024  # OpenWhisk's default action size limit


class StateFileError(Exception):
    """A state file that cannot be read back: its entities are not served (the emulator refuses to start)."""


class ApiError(Exception):
    """A request OpenWhisk's controller refuses; `status` is the HTTP status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def package_not_empty(count: int) -> str:
    noun = "entity" if count == 1 else "entities"
    return f"Package not empty (contains {count} {noun}). Set force param or delete package contents."


def invalid_runtime(kind: str) -> str:
    valid = "', '".join(PYTHON_KINDS + ("sequence",))
    return f"The specified runtime '{kind}' is not supported by this platform. Valid values are: '{valid}'."


@dataclass
class PackageDoc:
    name: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    publish: bool = False
    version: str = "0.0.1"
    updated: int = 0

    def params(self) -> dict[str, Any]:
        return _kv(self.parameters)


@dataclass
class ActionDoc:
    package: str
    name: str
    exec: dict[str, Any]
    parameters: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=dict)
    publish: bool = False
    version: str = "0.0.1"
    updated: int = 0
    runtime: Action | Sequence | None = field(default=None, compare=False, repr=False)

    @property
    def fqn(self) -> str:
        return f"{self.package}/{self.name}"

    def stored(self, code_file: str | None) -> dict[str, Any]:
        """The document as the state file's index keeps it: the code replaced by the name of its file."""
        out = {k: copy.deepcopy(getattr(self, k)) for k in
               ("package", "name", "exec", "parameters", "annotations", "limits", "publish", "version", "updated")}
        if code_file:
            del out["exec"]["code"]
            out["exec"]["code_file"] = code_file
        return out

    def code_bytes(self) -> bytes | None:
        """An action's code as its file holds it (a zip's bytes, or the source text); None for a sequence."""
        code = self.exec.get("code")
        if code is None:
            return None
        return _decode_zip(code) if self.exec.get("binary") else code.encode("utf-8")


class EntityRegistry:
    """Deployed packages and actions of one namespace; thread-safe; kept in a state file if given one."""

    def __init__(self, namespace: str, code_root: Path, manifest: Callable[[], Manifest],
                 state_file: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.namespace = namespace
        self._code_root = Path(code_root)
        self._manifest = manifest
        self._state_file = Path(state_file) if state_file else None
        self._clock = clock
        self._last_update = 0
        self._lock = threading.RLock()
        self.packages: dict[str, PackageDoc] = {}
        self.actions: dict[str, ActionDoc] = {}
        if self._state_file and self._state_file.is_file():
            self._load()

    # ---------------------------------------------------------------------------------- lookups

    def find(self, fqn: str) -> Action | Sequence | None:
        key = self._key(fqn)
        with self._lock:
            doc = self.actions.get(key) if key else None
            return doc.runtime if doc else None

    def runtime_actions(self) -> list[Action]:
        with self._lock:
            return [d.runtime for d in self.actions.values() if isinstance(d.runtime, Action)]

    def _key(self, fqn: str) -> str | None:
        parts = [p for p in fqn.strip("/").split("/") if p]
        if len(parts) == 3:
            if parts[0] not in ("_", self.namespace):
                return None
            parts = parts[1:]
        return "/".join(parts) if len(parts) == 2 else None

    def _package_exists(self, name: str) -> bool:
        return name in self.packages or name in self._manifest().packages

    def _package_params(self, name: str) -> dict[str, Any]:
        if name in self.packages:
            return self.packages[name].params()
        pkg = self._manifest().packages.get(name)
        return dict(pkg.inputs) if pkg else {}

    # ---------------------------------------------------------------------------------- packages

    def list_packages(self, limit: int = 30, skip: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            docs = {name: self._package_doc(name, brief=True) for name in self._manifest().packages}
            docs.update({name: self._package_doc(name, brief=True) for name in self.packages})
        items = sorted(docs.values(), key=lambda d: -d.get("updated", 0))
        return items[skip: skip + limit] if limit else items[skip:]

    def get_package(self, name: str) -> dict[str, Any]:
        with self._lock:
            if not self._package_exists(name):
                raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
            return self._package_doc(name)

    def put_package(self, name: str, body: dict[str, Any], overwrite: bool) -> dict[str, Any]:
        _check_name(name)
        with self._lock:
            old = self.packages.get(name)
            if old is not None and not overwrite:
                raise ApiError(409, RESOURCE_EXISTS)
            if old is None:
                doc = PackageDoc(name, _kv_list(body.get("parameters"), "parameters"),
                                 _kv_list(body.get("annotations"), "annotations"), bool(body.get("publish", False)),
                                 updated=self._now())
            else:  # update: what the PUT leaves out stays (Packages.update)
                doc = PackageDoc(
                    name,
                    _kv_list(body["parameters"], "parameters") if "parameters" in body else old.parameters,
                    _kv_list(body["annotations"], "annotations") if "annotations" in body else old.annotations,
                    bool(body["publish"]) if "publish" in body else old.publish,
                    _next_version(old.version), self._now(),
                )
            self.packages[name] = doc
            # Package parameters sit under every member's own: members see the new values at once.
            for action in self.actions.values():
                if action.package == name and action.runtime is not None:
                    action.runtime.inputs = self._inputs(action)
            self._save()
            return self._package_doc(name)

    def delete_package(self, name: str, force: bool) -> tuple[dict[str, Any], list[Action | Sequence]]:
        """Remove the package (and, with force, its actions); returns its document and the removed runtimes."""
        with self._lock:
            if name not in self.packages:
                if name in self._manifest().packages:
                    raise ApiError(409, MANIFEST_READ_ONLY.format(name))
                raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
            members = [k for k, d in self.actions.items() if d.package == name]
            if members and not force:
                raise ApiError(409, package_not_empty(len(members)))
            doc = self._package_doc(name)
            removed = [self.actions.pop(k).runtime for k in members]
            del self.packages[name]
            self._save()
        return doc, [r for r in removed if r is not None]

    def _package_doc(self, name: str, brief: bool = False) -> dict[str, Any]:
        """A package as OpenWhisk shows it: in a list, its summary, where `binding` is false for a package
        that binds none (WhiskPackage.summaryAsJson); whole, `binding` {} and its members' names,
        versions and annotations (WhiskPackageWithActions)."""
        doc = self.packages.get(name)
        if doc is None:  # a manifest package, shown as a deployment would show it
            manifest = self._manifest()
            doc = PackageDoc(name, [{"key": k, "value": v} for k, v in manifest.packages[name].inputs.items()],
                             updated=manifest.updated)
        out: dict[str, Any] = {
            "namespace": self.namespace, "name": name, "version": doc.version, "publish": doc.publish,
            "annotations": copy.deepcopy(doc.annotations), "binding": False if brief else {}, "updated": doc.updated,
        }
        if not brief:
            out["parameters"] = copy.deepcopy(doc.parameters)
            out["actions"] = [{k: member[k] for k in ("name", "version", "annotations")}
                              for member in self._members(name)]
            out["feeds"] = []
        return out

    def _members(self, package: str) -> list[dict[str, Any]]:
        docs: dict[str, dict[str, Any]] = {}
        manifest = self._manifest()
        pkg = manifest.packages.get(package)
        if pkg is not None:
            for entity in [*pkg.actions.values(), *pkg.sequences.values()]:
                docs[entity.name] = _manifest_doc(entity, self.namespace, manifest.updated)
        for doc in self.actions.values():
            if doc.package == package:
                docs[doc.name] = self._action_doc(doc, code=False)
        return sorted(docs.values(), key=lambda d: -d.get("updated", 0))

    # ---------------------------------------------------------------------------------- actions

    def list_actions(self, limit: int = 30, skip: int = 0, package: str | None = None) -> list[dict[str, Any]]:
        """Every action (deployed and manifest, deployed winning a clash), or a package's (404 for a
        package that is not there), newest first, without code."""
        with self._lock:
            if package is not None and not self._package_exists(package):
                raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
            packages = ({package} if package is not None else
                        {*self._manifest().packages, *self.packages, *(d.package for d in self.actions.values())})
            items = [self._brief(a) for p in packages for a in self._members(p)]
        items.sort(key=lambda d: (-d.get("updated", 0), d["namespace"], d["name"]))
        return items[skip: skip + limit] if limit else items[skip:]

    def get_action(self, package: str, name: str, code: bool = True) -> dict[str, Any]:
        with self._lock:
            doc = self.actions.get(f"{package}/{name}")
            if doc is not None:
                return self._action_doc(doc, code=code)
        manifest = self._manifest()
        entity = manifest.find(f"{package}/{name}")
        if entity is None:
            raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
        return _manifest_doc(entity, self.namespace, manifest.updated)

    def put_action(self, package: str, name: str, body: dict[str, Any],
                   overwrite: bool) -> tuple[dict[str, Any], Action | Sequence | None]:
        """Create or (with overwrite) update; returns the document and the runtime it replaced (an
        earlier deployment, or the manifest's action it now shadows)."""
        _check_name(name)
        with self._lock:
            if not self._package_exists(package):
                raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
            key = f"{package}/{name}"
            old = self.actions.get(key)
            if old is not None and not overwrite:
                raise ApiError(409, RESOURCE_EXISTS)
            exec_spec = body.get("exec")
            if exec_spec is None and old is None:
                raise ApiError(400, EXEC_UNDEFINED)
            exec_doc = self._exec(exec_spec, key) if exec_spec is not None else old.exec  # type: ignore[union-attr]
            if old is None:
                parameters = _kv_list(body.get("parameters"), "parameters")
                annotations = _kv_list(body.get("annotations"), "annotations")
                limits = _limits(body.get("limits"), {})
                publish, version = bool(body.get("publish", False)), "0.0.1"
                if not any(a["key"] == "provide-api-key" for a in annotations):  # as OpenWhisk marks a new action
                    annotations.append({"key": "provide-api-key", "value": False})
            else:  # update: what the PUT leaves out stays (Actions.updateWhiskAction)
                parameters = _kv_list(body["parameters"], "parameters") if "parameters" in body else old.parameters
                annotations = _kv_list(body["annotations"], "annotations") if "annotations" in body else old.annotations
                limits = _limits(body.get("limits"), old.limits)
                publish = bool(body["publish"]) if "publish" in body else old.publish
                version = _next_version(old.version)
            if exec_doc["kind"] == "sequence":  # OpenWhisk discards a sequence's parameters: it keeps its components
                parameters = [{"key": "_actions", "value": exec_doc["components"]}]
            elif old is not None and "parameters" not in body and _is_sequence_doc(old):
                parameters = []  # a sequence turned into an action keeps none of the sequence's
            annotations = [a for a in annotations if a["key"] != "exec"]
            annotations.append({"key": "exec", "value": exec_doc["kind"]})
            doc = ActionDoc(package, name, exec_doc, parameters, annotations, limits, publish, version, self._now())
            doc.runtime = self._runtime(doc)
            self.actions[key] = doc
            self._save()
            return self._action_doc(doc), (old.runtime if old else self._manifest().find(key))

    def delete_action(self, package: str, name: str) -> tuple[dict[str, Any], Action | Sequence | None]:
        with self._lock:
            doc = self.actions.pop(f"{package}/{name}", None)
            if doc is None:
                if self._manifest().find(f"{package}/{name}") is not None:
                    raise ApiError(409, MANIFEST_READ_ONLY.format(f"{package}/{name}"))
                raise ApiError(404, RESOURCE_DOES_NOT_EXIST)
            self._save()
            return self._action_doc(doc), doc.runtime

    def _action_doc(self, doc: ActionDoc, code: bool = True) -> dict[str, Any]:
        exec_doc = dict(doc.exec)
        if not code:
            exec_doc.pop("code", None)
        return {
            "namespace": f"{self.namespace}/{doc.package}", "name": doc.name, "version": doc.version,
            "publish": doc.publish, "exec": exec_doc, "annotations": copy.deepcopy(doc.annotations),
            "parameters": copy.deepcopy(doc.parameters), "limits": dict(doc.limits), "updated": doc.updated,
        }

    @staticmethod
    def _brief(doc: dict[str, Any]) -> dict[str, Any]:
        """A list entry: the document without parameters and code (WhiskActionMetaData in a list)."""
        out = {k: v for k, v in doc.items() if k != "parameters"}
        out["exec"] = {"binary": bool(doc["exec"].get("binary", False))}
        return out

    def _exec(self, spec: Any, key: str) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ApiError(400, EXEC_UNDEFINED)
        kind = spec.get("kind")
        if kind == "sequence":
            return {"kind": "sequence", "components": self._components(spec.get("components"), key)}
        if kind not in PYTHON_KINDS:
            raise ApiError(400, invalid_runtime(str(kind)))
        code = spec.get("code")
        if not isinstance(code, str) or not code:
            raise ApiError(400, "exec malformed: the action's code is missing.")
        # OpenWhisk ignores the `binary` flag of string code: base64 text is a zip (Exec.isBinaryCode),
        # so clients that omit the flag (the openwhisk npm client) deploy zips all the same.
        binary = is_binary_code(code)
        if binary:
            _decode_zip(code)  # refuse a broken zip now, not at the first activation
        elif len(code.encode("utf-8")) > MAX_CODE_BYTES:
            raise ApiError(413, f"Code larger than allowed: {len(code)} > {MAX_CODE_BYTES} bytes.")
        out = {"kind": kind, "code": code, "binary": binary}
        main = spec.get("main")
        if main:
            if not isinstance(main, str) or not main.isidentifier():
                raise ApiError(400, "exec malformed: 'main' must be the name of a Python function.")
            out["main"] = main
        return out

    def _components(self, listed: Any, key: str) -> list[str]:
        if not isinstance(listed, list) or not listed:
            raise ApiError(400, SEQUENCE_NO_COMPONENT)
        if len(listed) > MAX_SEQUENCE_LENGTH:
            raise ApiError(400, SEQUENCE_TOO_LONG)
        out = []
        for ref in listed:
            component = self._key(ref) if isinstance(ref, str) else None
            if component is None:
                raise ApiError(400, SEQUENCE_COMPONENT_NOT_FOUND)
            if component == key:
                raise ApiError(400, SEQUENCE_CYCLIC)
            found = self.actions.get(component)
            if found is None and self._manifest().find(component) is None:
                raise ApiError(400, SEQUENCE_COMPONENT_NOT_FOUND)
            out.append(f"/{self.namespace}/{component}")
        return out

    # ---------------------------------------------------------------------------------- runtime

    def _inputs(self, doc: ActionDoc) -> dict[str, Any]:
        """An action's parameters over its package's; a sequence has only its package's, which its
        `final` annotation protects but which reach none of its components (OpenWhisk passes a
        sequence the caller's payload alone)."""
        own = {} if _is_sequence_doc(doc) else _kv(doc.parameters)
        return {**self._package_params(doc.package), **own}

    def _runtime(self, doc: ActionDoc) -> Action | Sequence:
        annotations = _kv(doc.annotations)
        web = truthy(annotations.get("web-export"))
        raw = web and truthy(annotations.get("raw-http"))
        inputs = self._inputs(doc)
        if doc.exec["kind"] == "sequence":
            components = [self._key(c) or c for c in doc.exec["components"]]
            return Sequence(doc.name, doc.package, components, web=web, raw=raw, annotations=annotations,
                            inputs=inputs, version=doc.version)
        folder = Path(tempfile.mkdtemp(prefix=f"{doc.package}--{doc.name}-", dir=self._mkdir_code_root()))
        if doc.exec.get("binary"):
            with zipfile.ZipFile(io.BytesIO(_decode_zip(doc.exec["code"]))) as archive:
                archive.extractall(folder)  # zipfile keeps every member inside `folder`
        else:
            (folder / "__main__.py").write_text(doc.exec["code"], encoding="utf-8")
        return Action(doc.name, doc.package, folder / "__main__.py", runtime=doc.exec["kind"], web=web, raw=raw,
                      inputs=inputs, annotations=annotations, limits=dict(doc.limits),
                      main=doc.exec.get("main", "main"), staged=folder, isolated=True, version=doc.version)

    def _mkdir_code_root(self) -> Path:
        self._code_root.mkdir(parents=True, exist_ok=True)
        return self._code_root

    # ---------------------------------------------------------------------------------- persistence

    def _now(self) -> int:
        """Milliseconds, strictly increasing: entities put within one millisecond still list newest first."""
        self._last_update = max(int(self._clock() * 1000), self._last_update + 1)
        return self._last_update

    def _save(self) -> None:
        """Write the code files the index needs, then the index (atomically, fsynced), then remove the
        code files nothing refers to any more: a crash at any point leaves a readable state."""
        if self._state_file is None:
            return
        code_dir = code_folder(self._state_file)
        code_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        actions = []
        for doc in self.actions.values():
            data = doc.code_bytes()
            name = None
            if data is not None:
                name = f"{hashlib.sha256(data).hexdigest()}.{'zip' if doc.exec.get('binary') else 'py'}"
                if not (code_dir / name).exists():
                    replace_file(code_dir / name, data)
            actions.append(doc.stored(name))
        state = {
            "namespace": self.namespace,
            "packages": {n: {k: getattr(p, k) for k in ("parameters", "annotations", "publish", "version", "updated")}
                         for n, p in self.packages.items()},
            "actions": actions,
        }
        # replace_file writes mode 600, as mkstemp makes it: the parameters may hold secrets
        replace_file(self._state_file, json.dumps(state, indent=1).encode("utf-8"))
        used = {a["exec"].get("code_file") for a in actions}
        for file in code_dir.iterdir():
            if file.name not in used:
                file.unlink(missing_ok=True)

    def _load(self) -> None:
        assert self._state_file is not None
        try:
            state = json.loads(self._state_file.read_text(encoding="utf-8"))
            for name, p in state.get("packages", {}).items():
                self.packages[name] = PackageDoc(name, **p)
            pending = []
            for stored in state.get("actions", []):
                exec_doc = stored["exec"]
                code_file = exec_doc.pop("code_file", None)
                if code_file:
                    data = (code_folder(self._state_file) / code_file).read_bytes()
                    exec_doc["code"] = base64.b64encode(data).decode() if exec_doc.get("binary") else data.decode()
                pending.append(ActionDoc(**stored))
            # Plain actions first: a sequence's components must exist when it is rebuilt.
            for doc in sorted(pending, key=_is_sequence_doc):
                doc.runtime = self._runtime(doc)
                self.actions[doc.fqn] = doc
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ApiError, zipfile.BadZipFile) as error:
            raise StateFileError(f"the state file {self._state_file} cannot be read back "
                                 f"({type(error).__name__}: {error}); move it away, or start without --state") from None


# -------------------------------------------------------------------------------------- helpers

def code_folder(state_file: Path) -> Path:
    """Where a state file's actions keep their code: `entities.json` -> `entities.code/` beside it."""
    return state_file.with_name(f"{state_file.stem}.code")


def kept_names(state_file: Path | None) -> list[str]:
    """The `package/name` of every entity a state file keeps, read without building them (the
    startup banner names those that shadow the manifest's)."""
    try:
        state = json.loads(state_file.read_text(encoding="utf-8")) if state_file else {}
    except (OSError, ValueError):
        return []
    return [f"{a.get('package')}/{a.get('name')}" for a in state.get("actions", []) if isinstance(a, dict)]


def _manifest_doc(entity: Action | Sequence, namespace: str, updated: int) -> dict[str, Any]:
    """A manifest entity shown as OpenWhisk shows a deployed one (code omitted), `updated` when the
    manifest was read."""
    annotations = [{"key": k, "value": v} for k, v in entity.annotations.items() if k not in ("web-export", "raw-http")]
    if entity.web:
        annotations.append({"key": "web-export", "value": True})
    if entity.raw:
        annotations.append({"key": "raw-http", "value": True})
    if isinstance(entity, Sequence):
        exec_doc: dict[str, Any] = {"kind": "sequence", "components": [f"/{namespace}/{c}" for c in entity.components]}
        limits = every_limit()
        parameters: list[dict[str, Any]] = [{"key": "_actions", "value": exec_doc["components"]}]  # as deployed
    else:
        exec_doc = {"kind": entity.runtime, "binary": False}
        limits = every_limit(entity.limits)
        parameters = [{"key": k, "value": v} for k, v in entity.inputs.items()]
    annotations.append({"key": "exec", "value": exec_doc["kind"]})
    return {"namespace": f"{namespace}/{entity.package}", "name": entity.name, "version": entity.version,
            "publish": False, "exec": exec_doc, "annotations": annotations, "parameters": parameters,
            "limits": limits, "updated": updated}


def _is_sequence_doc(doc: ActionDoc) -> bool:
    return doc.exec.get("kind") == "sequence"


def _decode_zip(code: str) -> bytes:
    try:
        data = base64.b64decode(code, validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(400, "exec malformed: binary code is not valid base64.") from None
    if len(data) > MAX_CODE_BYTES:
        raise ApiError(413, f"Code larger than allowed: {len(data)} > {MAX_CODE_BYTES} bytes.")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ApiError(400, "exec malformed: binary code is not a zip file.")
    return data


def _kv_list(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(p, dict) and isinstance(p.get("key"), str) for p in value):
        raise ApiError(400, f"The request content was malformed:\n{what} must be a list of {{key, value}} objects.")
    return [{"key": p["key"], "value": p.get("value")} for p in value]


def _kv(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["key"]: p.get("value") for p in items}


def _limits(spec: Any, old: dict[str, int]) -> dict[str, int]:
    if spec is not None and not isinstance(spec, dict):
        raise ApiError(400, "The request content was malformed:\nlimits must be an object.")
    spec = spec or {}
    out = {}
    for name, (default, low, high) in LIMIT_RULES.items():
        value = spec.get(name, old.get(name, default))
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, f"The request content was malformed:\nlimits.{name} must be an integer.")
        if value < low:
            raise ApiError(400, _limit_message(name, value, low, "below"))
        if value > high:
            raise ApiError(400, _limit_message(name, value, high, "exceeds"))
        out[name] = value
    return out


def _limit_message(name: str, value: int, bound: int, how: str) -> str:
    """OpenWhisk's words (Messages.*AllowedThreshold, its field names), raised by Scala's `require`."""
    if name == "timeout":
        detail = f"duration {value} milliseconds {how} allowed threshold of {bound} milliseconds"
    elif name == "concurrency":
        detail = f"concurrency {value} {how} allowed threshold of {bound}"
    else:
        detail = f"{'memory' if name == 'memory' else 'log'} size {value} MB {how} allowed threshold of {bound} MB"
    return f"requirement failed: {detail}"


def _next_version(version: str) -> str:
    major, minor, patch = (version.split(".") + ["0", "0", "0"])[:3]
    return f"{major}.{minor}.{int(patch) + 1}"


# OpenWhisk's entity name (EntityName.REGEX): a word character, then up to 254 of word characters,
# '@', ' ', '.', '&' and '-', ending in one of them but a space; 256 at most. \w is ASCII there (Java).
_ENTITY_NAME = re.compile(r"\A(\w|\w[\w@ .&-]{0,254}[\w@.&-])\Z", re.ASCII)


def _check_name(name: str) -> None:
    if not _ENTITY_NAME.match(name):
        raise ApiError(400, "The name of the entity contains illegal characters.")

