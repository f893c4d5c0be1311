"""The emulator exactly as `./scripts/emulate` builds it, over the project's own app.config.yaml."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.bundle import emulator_app
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT


@pytest.fixture
def emulator(any_store_url: str) -> Iterator[tuple]:
    """(flask app, controller, store) over a fresh store of each backend, with real worker processes."""
    env = {"STORE_URL": any_store_url, "CRYPT_KEY": CRYPT_KEY}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=2)
    try:
        yield app, controller, store
    finally:
        controller.shutdown()
