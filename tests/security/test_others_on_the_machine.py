"""The threat model's other local users and network clients: by default the emulator listens on
loopback only, and the files that hold secrets or shoppers' data are readable by their owner alone."""
from __future__ import annotations

import stat
from pathlib import Path

from customer_auth.customers import Customer
from customer_auth.integrations import Integration
from customer_auth.store import open_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_by_default_the_emulator_listens_on_loopback_only(monkeypatch, tmp_path):
    from emulator.__main__ import parse_args

    monkeypatch.chdir(tmp_path)
    assert parse_args([], {}).host == "127.0.0.1"


def test_the_files_holding_secrets_are_their_owners_alone(monkeypatch, tmp_path):
    """Another user of the machine reads no integration secret, shopper or crypt key from the files."""
    from emulator.project import development_env

    monkeypatch.delenv("CRYPT_KEY", raising=False)
    store = open_store(f"tinydb://{tmp_path}/store.json")
    store.add_integration(Integration(name="kept"))
    store.find_or_create_customer(Customer(email="a@example.com", firstname="A", lastname="B", website_id=1,
                                           store_id=1))
    held = [tmp_path / "store.json", *(tmp_path / "store.customers").glob("*.json")]
    assert len(held) == 2 and [mode(path) for path in held] == [0o600, 0o600]
    project = tmp_path / "project"
    project.mkdir()
    development_env(project)
    assert mode(project / ".data" / "crypt.key") == 0o600
