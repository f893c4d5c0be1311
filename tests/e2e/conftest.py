"""The emulator exactly as `./scripts/emulate` builds it, over the project's own app.config.yaml."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple]:
    """(flask app, controller, store) with a fresh TinyDB store and real worker processes."""
    env = {"STORE_URL": f"tinydb://{tmp_path}/store.json", "CRYPT_KEY": CRYPT_KEY}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=2)
    try:
        yield app, controller, store
    finally:
        controller.shutdown()
