"""The action zips, built once per test session by scripts/package (pip takes a while)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "lib"))
import package  # noqa: E402  (scripts/lib/package.py)


@pytest.fixture(scope="session")
def zips(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    assert package.main(["--out", str(out)]) == 0
    return {path.stem: path for path in out.glob("*.zip")}
