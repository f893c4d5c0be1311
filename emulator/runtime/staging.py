"""Lay an action out as its deployed zip would be: `__main__.py` at the root plus its `include` files.

Workers run inside that folder, so an action imports exactly what its zip will carry, and an action
that works here but forgets an `include` fails here too. Files are symlinked, not copied; the
fingerprint (paths + mtimes + sizes) tells the pool when to retire workers holding stale code.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from emulator.manifest import Action


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


def stage(layout: dict[Path, Path], parent: Path, name: str) -> Path:
    """Create a fresh folder under `parent` holding the layout as symlinks."""
    folder = Path(tempfile.mkdtemp(prefix=name.replace("/", "--") + "-", dir=parent))
    for dest, src in layout.items():
        target = folder / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src, target)
    return folder


def unstage(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
