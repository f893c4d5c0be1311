"""The variables a manifest is interpolated with, read the way `aio` reads them.

aio loads `.env` with dotenv without overriding what is already in the process environment, so the
environment wins over the file. We compute the same mapping without touching `os.environ`, so
loading a manifest has no side effect on the emulator process (or on the tests).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values


def load_env(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return `.env` at `root` overlaid by the process environment (environment wins)."""
    env_file = Path(root) / ".env"
    values: dict[str, str] = {}
    if env_file.is_file():
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    values.update(os.environ if environ is None else environ)
    return values
