"""scripts/lib/npm.sh from Python: the npm packages a folder's package-lock.json pins, installed once
per machine outside the checkout. scripts/local-provider runs its OpenID provider from them, and the
tests that drive npm clients or that provider find theirs the same way."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NPM_SH = Path(__file__).with_name("npm.sh")


class NpmUnavailable(Exception):
    """Node.js or npm is missing, or the install failed (the message says which)."""


def npm_packages(folder: Path, show_progress: bool = False) -> Path:
    """The folder holding node_modules/ for `folder`'s lock file, installed first when missing.
    `show_progress`: npm.sh's messages go to this process's stderr as they come."""
    if shutil.which("node") is None:
        raise NpmUnavailable("node is not on PATH (Node.js 20 or newer, with npm)")
    done = subprocess.run(["bash", "-c", 'source "$0" && npm_packages "$1"', str(NPM_SH), str(folder)],
                          stdout=subprocess.PIPE, stderr=None if show_progress else subprocess.PIPE, text=True,
                          timeout=900)
    if done.returncode != 0:
        said = "" if show_progress else (done.stderr or "").strip()
        raise NpmUnavailable(said or f"installing the npm packages of {folder} failed (see above)")
    return Path(done.stdout.strip().splitlines()[-1])
