"""The project's development settings: the environment over `.env`, with what a fresh checkout lacks.

Used by the emulator and the admin scripts alike, so both see the same store and crypt key.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from customer_auth.errors import ConfigurationError

from .environment import load_env

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9080  # where the emulator listens unless told otherwise


def development_env(root: Path = ROOT) -> dict[str, str]:
    """`load_env` plus a TinyDB store and a crypt key under `.data/` when none is configured.

    The generated crypt key is kept in `.data/crypt.key` so tokens survive restarts; deployments set
    CRYPT_KEY themselves (to the Commerce install's key, for tokens Commerce accepts).
    """
    env = load_env(root)
    data = root / ".data"
    if not env.get("STORE_URL"):
        env["STORE_URL"] = f"tinydb://{data}/store.json"
    if not env.get("CRYPT_KEY"):
        key_file = data / "crypt.key"
        try:
            if not key_file.exists():
                data.mkdir(parents=True, exist_ok=True)
                key_file.write_text(secrets.token_hex(16))
                key_file.chmod(0o600)
            env["CRYPT_KEY"] = key_file.read_text().strip()
        except OSError as error:
            raise ConfigurationError(f"setting CRYPT_KEY is not set, and the development key {key_file} cannot "
                                     f"be kept ({error.strerror or error}): set CRYPT_KEY, or let the emulator "
                                     f"write in {data}") from None
    return env
