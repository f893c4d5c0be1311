"""Fixtures for the emulator tests: real worker processes, and a check that none outlives its test."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from emulator.app import create_app
from emulator.controller import Controller

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = FIXTURES / "app.config.yaml"
SECRET = "fixture-s3cret-value"


def child_pids() -> set[int]:
    """Direct children of this process (zombies included: an unreaped worker is a leak too)."""
    me, out = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me:
            out.add(int(entry))
    return out


@pytest.fixture(autouse=True)
def no_leaked_workers() -> Iterator[None]:
    """Fails a test that leaves a worker process alive (flask's leak-checking fixture, for processes)."""
    before = child_pids()
    yield
    deadline = time.monotonic() + 3
    leaked = child_pids() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = child_pids() - before
    if leaked:
        for pid in leaked:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        pytest.fail(f"test left worker processes alive: {sorted(leaked)}")


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
