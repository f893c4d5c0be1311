"""app.config.yaml read the way App Builder reads it, into plain dataclasses.

Only `application.runtimeManifest.packages` matters to the runtime. The rules follow aio
(aio-cli-lib-app-config, aio-lib-runtime): `$include` may stand for any object, package inputs sit
under action inputs, `$VAR` / `${VAR}` / `${ VAR }` come from the environment and `.env` (missing
-> ''), and `web` accepts true / 'yes' / 'raw' / 'no'. Every problem is a `ManifestError` naming
the file, the key path and the problem, because a traceback tells a user nothing about their YAML.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from emulator.environment import load_env

__all__ = [
    "Action", "Include", "Manifest", "ManifestError", "Package", "Sequence", "load_env",
    "load_manifest",
]

DEFAULT_TIMEOUT_MS = 60_000
MAX_TIMEOUT_MS = 600_000
DEFAULT_MEMORY_MB = 256
DEFAULT_CONCURRENCY = 1
DEFAULT_RUNTIME = "python:3.11"
PYTHON_KINDS = ("python:3", "python:3.10", "python:3.11", "python:3.12", "python:default")  # OpenWhisk's
MAX_SEQUENCE_LENGTH = 50  # OpenWhisk's limit

_VAR = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_GLOB_CHARS = re.compile(r"[*?\[]")


class ManifestError(Exception):
    """A manifest problem, phrased for the person who wrote the YAML."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + problem)


@dataclass(frozen=True)
class Include:
    """One `include: [glob, dest]` pair: files copied into the action's zip under `dest`."""

    pattern: str
    dest: str

    def files(self, root: Path) -> list[tuple[Path, Path]]:
        """(source file, path inside the zip) for every file the glob matches now.

        A file keeps its path below the glob's static prefix, as aio's packaging does:
        'actions/customer_auth/**/*.py' -> 'customer_auth/store/x.py'.
        """
        parts = Path(self.pattern).parts
        static = [p for p in parts[: next((i for i, p in enumerate(parts) if _GLOB_CHARS.search(p)), len(parts))]]
        if len(static) == len(parts):  # a plain file path: keep its name only
            static = static[:-1]
        base = root.joinpath(*static) if static else root
        out = []
        for src in sorted(root.glob(self.pattern)):
            if src.is_file() and "__pycache__" not in src.parts:
                out.append((src, Path(self.dest) / src.relative_to(base)))
        return out


@dataclass
class Action:
    name: str
    package: str
    function: Path
    runtime: str = DEFAULT_RUNTIME
    web: bool = False
    raw: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    main: str = "main"
    # A deployed action (REST API): its zip already unpacked in `staged`, used as is and never
    # restaged; `isolated` runs it on the bare interpreter (no emulator packages), as the runtime does.
    staged: Path | None = None
    isolated: bool = False
    version: str = "0.0.1"  # a deployment's, bumped by each update (manifest actions: the first)

    @property
    def fqn(self) -> str:
        return f"{self.package}/{self.name}"

    @property
    def timeout_ms(self) -> int:
        return self.limits.get("timeout", DEFAULT_TIMEOUT_MS)


@dataclass
class Sequence:
    name: str
    package: str
    components: list[str]
    web: bool = False
    raw: bool = False
    annotations: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)  # its package's: for `final`, never passed on
    version: str = "0.0.1"

    @property
    def fqn(self) -> str:
        return f"{self.package}/{self.name}"


@dataclass
class Package:
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    sequences: dict[str, Sequence] = field(default_factory=dict)


@dataclass
class Manifest:
    packages: dict[str, Package]
    path: Path | None = None
    # When it was read (epoch ms): its entities' `updated`, as a deployment's is when it was made.
    updated: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def find(self, fqn: str) -> Action | Sequence | None:
        """The action or sequence named 'package/name' (a leading '/namespace/' is ignored)."""
        parts = [p for p in fqn.strip("/").split("/") if p]
        if len(parts) == 3:
            parts = parts[1:]
        if len(parts) != 2 or parts[0] not in self.packages:
            return None
        pkg = self.packages[parts[0]]
        return pkg.actions.get(parts[1]) or pkg.sequences.get(parts[1])

    def settings(self, package: str) -> dict[str, Any] | None:
        """Every input a package's actions get (the package's, then each action's), as one mapping: the
        bundle's settings; None without that package."""
        pkg = self.packages.get(package)
        if pkg is None:
            return None
        merged = dict(pkg.inputs)
        for action in pkg.actions.values():
            merged.update(action.inputs)
        return merged


# ---------------------------------------------------------------------------------------- loading

def load_manifest(path: Path, env: Mapping[str, str]) -> Manifest:
    """Read `path` (app.config.yaml) with `env` for interpolation; raise ManifestError on any problem."""
    path = Path(path).resolve()
    doc = _resolve_includes(_read_yaml(path, path, ""), path, "", (path,))
    doc = _interpolate(doc, env)
    app = _mapping(doc, path, "", required=True)
    app = _mapping(app.get("application"), path, "application", required=True)
    rt = _mapping(app.get("runtimeManifest"), path, "application.runtimeManifest", required=True)
    key = "application.runtimeManifest.packages"
    pkgs = _mapping(rt.get("packages"), path, key, required=True)
    packages = {name: _package(name, spec, path, f"{key}.{name}") for name, spec in pkgs.items()}
    return Manifest(packages=packages, path=path)


def _read_yaml(file: Path, including: Path, key: str) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(including, key, f"file not found: {file}") from None
    except OSError as exc:
        raise ManifestError(including, key, f"cannot read {file}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(file, key, f"invalid YAML{where}: {problem}") from None


def _resolve_includes(node: Any, file: Path, key: str, stack: tuple[Path, ...]) -> Any:
    """Replace every `$include` by the included file's object; the including object's keys win."""
    if isinstance(node, list):
        return [_resolve_includes(v, file, f"{key}[{i}]", stack) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    here = {k: _resolve_includes(v, file, _join(key, str(k)), stack) for k, v in node.items() if k != "$include"}
    if "$include" not in node:
        return here
    ref_key = _join(key, "$include")
    ref = node["$include"]
    if not isinstance(ref, str) or not ref:
        raise ManifestError(file, ref_key, "must be a path to a YAML file")
    target = (file.parent / ref).resolve()
    if target in stack:
        chain = " -> ".join(str(p) for p in (*stack, target))
        raise ManifestError(file, ref_key, f"include cycle: {chain}")
    included = _read_yaml(target, file, ref_key)
    if not isinstance(included, dict):
        raise ManifestError(target, "", f"included by {file} at {ref_key}: must hold a YAML object")
    included = _resolve_includes(included, target, key, (*stack, target))
    return {**included, **here}


def _interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), node)
    if isinstance(node, list):
        return [_interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate(v, env) for k, v in node.items()}
    return node


def _package(name: str, spec: Any, file: Path, key: str) -> Package:
    spec = _mapping(spec, file, key)
    inputs = _inputs(spec.get("inputs"), file, f"{key}.inputs")
    pkg = Package(name=name, inputs=inputs)
    for aname, aspec in _mapping(spec.get("actions"), file, f"{key}.actions").items():
        pkg.actions[aname] = _action(aname, name, aspec, inputs, file, f"{key}.actions.{aname}")
    for sname, sspec in _mapping(spec.get("sequences"), file, f"{key}.sequences").items():
        skey = f"{key}.sequences.{sname}"
        if sname in pkg.actions:
            raise ManifestError(file, skey, f"'{sname}' is already the name of an action in '{name}'")
        pkg.sequences[sname] = _sequence(sname, pkg, sspec, file, skey)
    return pkg


def _action(name: str, package: str, spec: Any, pkg_inputs: dict[str, Any], file: Path, key: str) -> Action:
    spec = _mapping(spec, file, key, required=True)
    function = spec.get("function")
    if not isinstance(function, str) or not function:
        raise ManifestError(file, f"{key}.function", "is required (path to the action's __main__.py)")
    fpath = (file.parent / function).resolve()
    if not fpath.exists():
        raise ManifestError(file, f"{key}.function", f"file not found: {fpath}")
    runtime = spec.get("runtime", DEFAULT_RUNTIME)
    if runtime not in PYTHON_KINDS:
        raise ManifestError(file, f"{key}.runtime",
                            f"unsupported runtime {runtime!r} (this emulator runs {', '.join(PYTHON_KINDS)})")
    annotations = dict(_mapping(spec.get("annotations"), file, f"{key}.annotations"))
    web, raw = _web(spec.get("web", spec.get("web-export")), annotations, file, f"{key}.web")
    inputs = {**pkg_inputs, **_inputs(spec.get("inputs"), file, f"{key}.inputs")}
    main = spec.get("main", "main")
    if not isinstance(main, str) or not main.isidentifier():
        raise ManifestError(file, f"{key}.main", "must be the name of a Python function")
    return Action(
        name=name, package=package, function=fpath, runtime=runtime, web=web, raw=raw, inputs=inputs,
        annotations=annotations, limits=_limits(spec.get("limits"), file, f"{key}.limits"),
        includes=_includes(spec.get("include"), file, f"{key}.include"), main=main,
    )


def _sequence(name: str, pkg: Package, spec: Any, file: Path, key: str) -> Sequence:
    spec = _mapping(spec, file, key, required=True)
    listed = spec.get("actions")
    if not isinstance(listed, str) or not listed.strip():
        raise ManifestError(file, f"{key}.actions", "is required: a comma-separated list of action names")
    components = []
    for ref in (r.strip() for r in listed.split(",")):
        fq = ref if "/" in ref.strip("/") else f"{pkg.name}/{ref}"
        pname, _, aname = fq.strip("/").rpartition("/")
        if pname != pkg.name or aname not in pkg.actions:
            raise ManifestError(file, f"{key}.actions", f"'{ref}' is not an action of package '{pkg.name}'")
        components.append(f"{pname}/{aname}")
    if len(components) < 2:
        raise ManifestError(file, f"{key}.actions", "a sequence needs two or more actions")
    if len(components) > MAX_SEQUENCE_LENGTH:
        raise ManifestError(file, f"{key}.actions", f"a sequence may have at most {MAX_SEQUENCE_LENGTH} actions")
    annotations = dict(_mapping(spec.get("annotations"), file, f"{key}.annotations"))
    web, raw = _web(spec.get("web", spec.get("web-export")), annotations, file, f"{key}.web")
    return Sequence(name=name, package=pkg.name, components=components, web=web, raw=raw, annotations=annotations,
                    inputs=dict(pkg.inputs))


def _web(value: Any, annotations: dict[str, Any], file: Path, key: str) -> tuple[bool, bool]:
    flag = value.strip().lower() if isinstance(value, str) else value
    if flag in (None, False, "no", "false", ""):
        web, raw = False, False
    elif flag in (True, "yes", "true"):
        web, raw = True, False
    elif flag == "raw":
        web, raw = True, True
    else:
        raise ManifestError(file, key, f"must be true, 'yes', 'raw' or 'no' (got {value!r})")
    web = web or truthy(annotations.get("web-export"))
    raw = raw or truthy(annotations.get("raw-http"))
    return web, raw and web


def truthy(value: Any) -> bool:
    """An annotation's yes: true, or the strings "true" / "yes" (any case)."""
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes"))


LIMIT_RULES = {  # name: (default, low, high), OpenWhisk's defaults and bounds
    "timeout": (DEFAULT_TIMEOUT_MS, 100, MAX_TIMEOUT_MS),
    "memory": (DEFAULT_MEMORY_MB, 128, 4096),
    "logs": (10, 0, 10),
    "concurrency": (DEFAULT_CONCURRENCY, 1, 500),
}


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def is_binary_code(text: str) -> bool:
    """OpenWhisk's Exec.isBinaryCode: non-empty base64 once stripped (a zip's code, and a JSON-typed
    web answer it still decodes)."""
    text = text.strip()
    return len(text) > 0 and len(text) % 4 == 0 and _BASE64.fullmatch(text) is not None


def every_limit(limits: Mapping[str, int] | None = None) -> dict[str, int]:
    """All four limits, OpenWhisk's default for each one `limits` lacks: what records and entity
    documents show."""
    limits = limits or {}
    return {name: limits.get(name, rule[0]) for name, rule in LIMIT_RULES.items()}


def _limits(spec: Any, file: Path, key: str) -> dict[str, int]:
    spec = _mapping(spec, file, key)
    out = {}
    for name, (default, low, high) in LIMIT_RULES.items():
        value = spec.get(name, default)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ManifestError(file, f"{key}.{name}", f"must be a whole number from {low} to {high} (got {value!r})")
        out[name] = value
    return out


def _includes(spec: Any, file: Path, key: str) -> list[Include]:
    if spec is None:
        return []
    if not isinstance(spec, list):
        raise ManifestError(file, key, "must be a list of [glob, destination folder] pairs")
    out = []
    for i, item in enumerate(spec):
        if not (isinstance(item, list) and 1 <= len(item) <= 2 and all(isinstance(x, str) for x in item)):
            raise ManifestError(file, f"{key}[{i}]", "must be [glob, destination folder]")
        pattern, dest = item[0], (item[1] if len(item) == 2 else "")
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts or ".." in Path(dest).parts:
            raise ManifestError(file, f"{key}[{i}]", "paths must stay inside the project folder")
        out.append(Include(pattern=pattern, dest=dest))
    return out


def _inputs(spec: Any, file: Path, key: str) -> dict[str, Any]:
    out = {}
    for name, value in _mapping(spec, file, key).items():
        if isinstance(value, dict) and "type" in value:  # wskdeploy's typed form {type, default, ...}
            value = value.get("value", value.get("default", ""))
        out[str(name)] = value
    return out


def _mapping(value: Any, file: Path, key: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        what = "is missing" if value is None else f"must be a mapping (got {type(value).__name__})"
        raise ManifestError(file, key, what)
    return value


def _join(key: str, part: str) -> str:
    return f"{key}.{part}" if key else part
