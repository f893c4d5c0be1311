"""scripts/package: build dist/<action>.zip for every action of the manifest, as OpenWhisk's Python
runtime loads them: `__main__.py` at the root, the manifest's `include` files beside it, and a
`virtualenv/` folder (with `bin/activate_this.py`) holding only the distributions the action imports,
built for Linux x86-64 and the action's Python version.

Every module comes with its bytecode (`__pycache__/*.pyc`, unchecked-hash: valid whatever the
timestamps the runtime gives the unpacked files), compiled when the action's Python version is the
one packaging runs on: a container unpacks the zip afresh, so without it each cold start would
compile every module it imports (for the graphql action, graphql-core: about 120 ms of its 270).
The bytecode records paths relative to the zip, never this machine's.

Versions are those of the project's .venv (what the tests ran), passed to pip as constraints.
"""
from __future__ import annotations

import argparse
import ast
import compileall
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from py_compile import PycInvalidationMode

from emulator.manifest import Action, ManifestError, load_manifest
from emulator.project import ROOT, HelpFormatter, development_env

import cli

MB = 1024 * 1024
OPENWHISK_LIMIT = 48 * MB
ADOBE_LIMIT = 22 * MB
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources make the same zip

ACTIVATE_THIS = '''"""Activates this zip's virtualenv/: OpenWhisk's Python runtime runs this file before importing
__main__.py. The virtualenv's packages are put first on sys.path."""
import os
import site
import sys

base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
site_packages = os.path.join(base, "lib", "python{version}", "site-packages")
previous = list(sys.path)
site.addsitedir(site_packages)
sys.path[:] = [p for p in sys.path if p not in previous] + previous
sys.real_prefix = sys.prefix
sys.prefix = base
os.environ["VIRTUAL_ENV"] = base
'''


class PackagingError(Exception):
    """An action cannot be packaged; the message says which and why."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/package", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("actions", nargs="*", help="package/action names (default: every action)")
    parser.add_argument("--manifest", default=str(ROOT / "app.config.yaml"), help="the App Builder manifest")
    parser.add_argument("--out", default=str(ROOT / "dist"), help="where the zips go")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(Path(args.manifest), development_env())
        every = [a for p in manifest.packages.values() for a in p.actions.values()]
        unknown = [n for n in args.actions if not any(n in (a.fqn, a.name) for a in every)]
        if unknown:
            raise PackagingError(f"no action named {', '.join(unknown)} in {args.manifest}")
        wanted = [a for a in every if not args.actions or a.fqn in args.actions or a.name in args.actions]
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for action in wanted:
            zip_path = build(action, manifest.root, out)
            size = zip_path.stat().st_size
            note = "" if size < ADOBE_LIMIT else "  (over Adobe I/O Runtime's 22 MB)"
            print(f"{action.fqn:<40} {zip_path.relative_to(Path.cwd()) if zip_path.is_relative_to(Path.cwd()) else zip_path}"
                  f"  {size / MB:6.2f} MB{note}", flush=True)
            if size > OPENWHISK_LIMIT:
                raise PackagingError(f"{zip_path} is {size / MB:.1f} MB, over OpenWhisk's 48 MB code limit")
    except (ManifestError, PackagingError) as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    return 0


def build(action: Action, root: Path, out: Path) -> Path:
    """dist/<action>.zip for one action."""
    with tempfile.TemporaryDirectory(prefix=f"package-{action.name}-") as tmp:
        stage = Path(tmp)
        files = [(root / action.function, Path("__main__.py"))] + [
            pair for include in action.includes for pair in include.files(root)]
        for source, target in files:
            (stage / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, stage / target)
        version = python_version(action.runtime)
        requirements = requirements_for(third_party_modules(stage), action)
        if requirements:
            install(requirements, stage / "virtualenv" / "lib" / f"python{version}" / "site-packages", version, action)
            (stage / "virtualenv" / "bin").mkdir(parents=True, exist_ok=True)
            (stage / "virtualenv" / "bin" / "activate_this.py").write_text(ACTIVATE_THIS.format(version=version))
        if version == f"{sys.version_info.major}.{sys.version_info.minor}":
            compile_bytecode(stage)
        zip_path = out / f"{action.name}.zip"
        write_zip(stage, zip_path)
        return zip_path


def python_version(runtime: str) -> str:
    match = re.fullmatch(r"python:(\d+\.\d+)", runtime)
    return match.group(1) if match else "3.11"  # `python:3`/`python:default` run 3.11 on current OpenWhisk


def third_party_modules(stage: Path) -> dict[str, Path]:
    """Top-level third-party modules reachable from `__main__.py`, following the staged modules it
    imports at any depth (imports inside functions too): module -> the first file importing it.
    A library module the action never reaches adds nothing to its virtualenv."""
    local = {p.stem if p.is_file() else p.name for p in stage.iterdir()}
    found: dict[str, Path] = {}
    queue, seen = [stage / "__main__.py"], set()
    while queue:
        source = queue.pop()
        if source in seen or not source.is_file():
            continue
        seen.add(source)
        relative = source.relative_to(stage).with_suffix("")
        package = relative.parts[:-1]  # a module's package, which for an __init__ is its own folder
        for dotted, names in _imports(ast.parse(source.read_text(encoding="utf-8"), filename=str(source)), package):
            top = dotted[0]
            if top in local:
                queue.extend(_module_files(stage, dotted, names))
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, source.relative_to(stage))
    return found


def _imports(tree: ast.AST, package: tuple[str, ...]) -> list[tuple[tuple[str, ...], list[str]]]:
    """(absolute dotted module, names imported from it) for every import in `tree`."""
    out: list[tuple[tuple[str, ...], list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((tuple(alias.name.split(".")), []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = base + (tuple(node.module.split(".")) if node.module else ())
            if module:
                out.append((module, [alias.name for alias in node.names]))
    return out


def _module_files(stage: Path, dotted: tuple[str, ...], names: list[str]) -> list[Path]:
    """The staged files importing `dotted` (and `from dotted import names`) executes."""
    files = [stage.joinpath(*dotted[:i], "__init__.py") for i in range(1, len(dotted) + 1)]
    files.append(stage.joinpath(*dotted).with_suffix(".py"))
    files.extend(stage.joinpath(*dotted, f"{name}.py") for name in names)  # submodules named in a from-import
    files.extend(stage.joinpath(*dotted, name, "__init__.py") for name in names)
    return files


def requirements_for(modules: dict[str, Path], action: Action) -> list[str]:
    """Requirement strings (as pyproject.toml declares them, extras included) for the imported modules."""
    owners = metadata.packages_distributions()
    declared = declared_requirements()
    requirements = []
    for module, importer in sorted(modules.items()):
        distributions = owners.get(module)
        if not distributions:
            raise PackagingError(f"{action.fqn}: cannot resolve module {module!r} (imported by {importer}): "
                                 "no installed distribution provides it")
        for distribution in distributions:
            requirements.append(declared.get(_canonical(distribution), distribution))
    return sorted(set(requirements))


def declared_requirements() -> dict[str, str]:
    """pyproject.toml's dependencies and optional dependencies, by canonical distribution name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    every = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        every.extend(extra)
    return {_canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]): spec for spec in every}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install(requirements: list[str], target: Path, version: str, action: Action) -> None:
    """pip install for Linux x86-64 and `version`, binary wheels only, pinned to the tested versions."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        constraints.write("\n".join(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()))
        constraints.flush()
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--target", str(target), "--python-version", version, "--implementation", "cp",
                   "--only-binary=:all:", "--constraint", constraints.name,
                   *(arg for platform in PLATFORMS for arg in ("--platform", platform)), *requirements]
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        detail = "\n  ".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise PackagingError(f"{action.fqn}: cannot resolve its dependencies {', '.join(requirements)}:\n  {detail}")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them in an action


def compile_bytecode(stage: Path) -> None:
    """Unchecked-hash bytecode for every module of the stage, in place of pip's (timestamp-checked,
    with this machine's paths); `__main__.py`'s too, though the runtime renames it (its own is small)."""
    for cache in [p for p in stage.rglob("__pycache__") if p.is_dir()]:
        shutil.rmtree(cache)
    # A file that does not compile (a distribution's template or Python 2 leftover) gets no bytecode:
    # it could not be imported either, and the tests import what each action imports.
    compileall.compile_dir(str(stage), quiet=2, stripdir=str(stage), force=True, workers=1,
                           invalidation_mode=PycInvalidationMode.UNCHECKED_HASH)


def write_zip(stage: Path, zip_path: Path) -> None:
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(stage.rglob("*")):
            if path.is_file() and ("__pycache__" not in path.parts or path.suffix == ".pyc"):
                info = zipfile.ZipInfo(str(path.relative_to(stage)), _EPOCH)
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    tmp.replace(zip_path)


if __name__ == "__main__":
    sys.exit(cli.run(main))
