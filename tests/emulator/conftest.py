"""Fixtures for the emulator tests: real worker processes, and a check that none outlives its test."""
from __future__ import annotations

from pathlib import Path

import pytest

from emulator.app import create_app
from emulator.controller import Controller

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = FIXTURES / "app.config.yaml"
SECRET = "fixture-s3cret-value"


@pytest.fixture
def make_controller():
    """Build controllers over the fixture manifest (or another); all are shut down after the test."""
    made: list[Controller] = []

    def make(manifest: Path = MANIFEST, env: dict[str, str] | None = None, **kwargs) -> Controller:
        c = Controller.from_path(manifest, {"FIXTURE_SECRET": SECRET} if env is None else env, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()


@pytest.fixture
def controller(make_controller) -> Controller:
    return make_controller()


@pytest.fixture
def client(controller):
    return create_app(controller).test_client()
