"""Fixtures for the emulator tests: real worker processes, and a check that none outlives its test."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from emulator.app import create_app
from emulator.controller import Controller
from emulator.rest_api import GUEST_KEY

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = FIXTURES / "app.config.yaml"
SECRET = "fixture-s3cret-value"
AUTH = GUEST_KEY.split(":", 1)  # (user, password) for requests
AUTH_HEADER = "Basic " + base64.b64encode(GUEST_KEY.encode()).decode()


def authorized(client):
    """A test client that sends the guest key on every request, as wsk does."""
    client.environ_base["HTTP_AUTHORIZATION"] = AUTH_HEADER
    return client


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
    return authorized(create_app(controller).test_client())
