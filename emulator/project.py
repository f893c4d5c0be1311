"""The project's development settings: the environment over `.env`, with what a fresh checkout lacks.

Used by the emulator and the admin scripts alike, so both see the same store and crypt key.
"""
from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable
from pathlib import Path

from customer_auth import values
from customer_auth.errors import ConfigurationError

from .environment import load_env

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9080  # where the emulator listens unless told otherwise


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help for the emulator and the scripts: each option's default beside it (none shown where there
    is none, or where the help says it in words), the description as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, "") or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def http_url(host: str, port: int | str) -> str:
    """`http://host:port`, an IPv6 address in brackets (`http://[::1]:9080`)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number not below `minimum`, read as a setting's (customer_auth.values)."""
    parse = values.whole_number(minimum)

    def check(text: str) -> int:
        try:
            return parse(text)
        except ValueError as accepted:
            raise argparse.ArgumentTypeError(f"must be {accepted}, not {text!r}") from None

    return check


def development_env(root: Path = ROOT, create: bool = True) -> dict[str, str]:
    """`load_env` plus a TinyDB store and a crypt key under `.data/` when none is configured.

    The generated crypt key is kept in `.data/crypt.key` so tokens survive restarts; deployments set
    CRYPT_KEY themselves (to the Commerce install's key, for tokens Commerce accepts). With `create`
    false nothing is written: a key not generated yet reads as one of the same shape (what checking
    the settings before a start needs).
    """
    env = load_env(root)
    data = root / ".data"
    if not env.get("STORE_URL"):
        env["STORE_URL"] = f"tinydb://{data}/store.json"
    if not env.get("CRYPT_KEY"):
        key_file = data / "crypt.key"
        if not key_file.exists() and not create:
            env["CRYPT_KEY"] = "0" * 32
            return env
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
