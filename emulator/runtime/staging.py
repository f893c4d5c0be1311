"""Lay an action out as its deployed zip would be: `__main__.py` at the root plus its `include` files.

Workers run inside that folder, so an action imports exactly what its zip will carry, and an action
that works here but forgets an `include` fails here too. Files are symlinked, not copied; the
fingerprint (paths + mtimes + sizes) tells the pool when to retire workers holding stale code.

Globbing the layout again for every activation costs about a millisecond; a `Snapshot` (the mtimes of
the staged files and of the folders the globs read) tells in a few stat calls that it cannot have
changed. Adding, removing or renaming a file changes its folder's mtime; editing it, its own.
"""
from __future__ import annotations

import importlib.util
import logging
import marshal
import os
import shutil
import tempfile
import threading
from pathlib import Path

from emulator.manifest import _GLOB_CHARS, Action


def zip_layout(action: Action, root: Path) -> dict[Path, Path]:
    """{path inside the zip: source file} for the action as it stands on disk now."""
    layout: dict[Path, Path] = {}
    if action.function.is_dir():  # a folder action is zipped whole
        for src in sorted(action.function.rglob("*")):
            if src.is_file() and "__pycache__" not in src.parts:
                layout[src.relative_to(action.function)] = src
    else:
        layout[Path("__main__.py")] = action.function
    for include in action.includes:
        for src, dest in include.files(root):
            layout.setdefault(dest, src)
    return layout


def fingerprint(layout: dict[Path, Path]) -> tuple:
    """Changes when any staged file is added, removed or modified."""
    out = []
    for dest, src in sorted(layout.items()):
        try:
            st = src.stat()
            out.append((str(dest), str(src), st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((str(dest), str(src), None, None))
    return tuple(out)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _folders(top: Path, depth: int | None) -> list[str]:
    """`top` and the folders below it down to `depth` levels (None: all), __pycache__ left out."""
    out = [str(top)]
    if depth == 0:
        return out
    try:
        entries = list(os.scandir(top))
    except OSError:
        return out
    for entry in entries:
        if entry.name != "__pycache__" and entry.is_dir():
            out += _folders(Path(entry.path), None if depth is None else depth - 1)
    return out


def watched_folders(action: Action, root: Path) -> list[str]:
    """Every folder whose listing `zip_layout` depends on (a superset is fine)."""
    folders: list[str] = []
    if action.function.is_dir():
        folders += _folders(action.function, None)
    else:
        folders.append(str(action.function.parent))
    for include in action.includes:
        parts = Path(include.pattern).parts
        n = next((i for i, p in enumerate(parts) if _GLOB_CHARS.search(p)), len(parts))
        rest = parts[n:]
        base = root.joinpath(*parts[:n]) if n < len(parts) else root.joinpath(*parts[:-1])
        if not rest:  # a plain file path: its folder lists it
            folders.append(str(base))
        else:
            folders += _folders(base, None if "**" in rest else len(rest) - 1)
    return folders


Snapshot = tuple


def folder_stats(folders: list[str]) -> tuple:
    """Taken before the layout is read, so a change made meanwhile shows at the next check."""
    return tuple((f, _stat(f)) for f in folders)


def snapshot(folders: tuple, version: tuple) -> Snapshot:
    """What `unchanged` compares: `folder_stats` and the staged files' stats as `fingerprint` took them."""
    return folders, tuple((src, None if mtime is None else (mtime, size)) for _, src, mtime, size in version)


def unchanged(snap: Snapshot) -> bool:
    """True when no watched folder and no staged file changed since the snapshot."""
    folders, files = snap
    return all(_stat(f) == st for f, st in folders) and all(_stat(src) == st for src, st in files)


# Bytecode of staged modules, compiled once per emulator process and source version: a worker runs
# with PYTHONDONTWRITEBYTECODE in a freshly staged folder, so without it every worker start compiled
# the action's modules again (about 30 ms for customer_auth).
_PYC: dict[tuple[str, int, int], bytes | None] = {}
_PYC_LOCK = threading.Lock()


def _pyc(src: Path) -> bytes | None:
    """A timestamp-validated .pyc of `src` for this interpreter, None if it does not compile (the
    worker then reports the error itself, as before)."""
    try:
        st = src.stat()
    except OSError:
        return None
    key = (str(src), st.st_mtime_ns, st.st_size)
    with _PYC_LOCK:
        if key in _PYC:
            return _PYC[key]
    try:
        code = compile(src.read_bytes(), str(src), "exec", dont_inherit=True, optimize=0)
        data: bytes | None = b"".join((
            importlib.util.MAGIC_NUMBER, (0).to_bytes(4, "little"),
            (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little"), (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"),
            marshal.dumps(code),
        ))
    except (OSError, SyntaxError, ValueError):
        data = None
    with _PYC_LOCK:
        if len(_PYC) > 4096:
            _PYC.clear()
        _PYC[key] = data
    return data


def stage(layout: dict[Path, Path], parent: Path, name: str) -> Path:
    """Create a fresh folder under `parent` holding the layout as symlinks."""
    folder = Path(tempfile.mkdtemp(prefix=name.replace("/", "--") + "-", dir=parent))
    for dest, src in layout.items():
        target = folder / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src, target)
    return folder


def write_bytecode(layout: dict[Path, Path], target: Path) -> None:
    """The bytecode of the staged modules under `target` (`<dest>.pyc`, outside the staged folder,
    which keeps only what the zip holds), read by the worker's bootstrap
    (`containers.default_command`). Each .pyc holds its source's mtime and size, checked by the
    worker, so an edit made after staging is still compiled from source."""
    for dest, src in layout.items():
        if dest.suffix != ".py":
            continue
        data = _pyc(src)
        if data is None:
            continue
        pyc = target / (str(dest) + "c")
        pyc.parent.mkdir(parents=True, exist_ok=True)
        pyc.write_bytes(data)


def unstage(folder: Path) -> None:
    """Remove a staged folder (one already gone is fine); a folder that stays is named in a warning
    with why, rather than left behind silently."""
    errors: list[str] = []
    shutil.rmtree(folder, onerror=lambda _f, path, info: errors.append(f"{path}: {info[1]}"))
    if folder.exists():
        logging.getLogger(__name__).warning("emulator: could not remove %s (%s)", folder, "; ".join(errors[:3]))
