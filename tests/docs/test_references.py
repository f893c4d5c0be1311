"""The tests the docs name as proof exist: `tests/x.py::test_name` (or `x.py::test_name`, the one
test file of that name), or `::test_name` after such a path (the same file), in README.md and docs/*.md. A renamed or removed test would otherwise leave a claim
that nothing proves."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = re.compile(r"([\w/]*test_\w+\.py)?::(test_\w+)")


def references(text: str) -> list[tuple[str, str]]:
    found, current = [], ""
    for match in REFERENCE.finditer(text):
        current = match.group(1) or current
        found.append((current, match.group(2)))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_test_a_document_names_exists(document) -> None:
    missing = []
    for path, name in references(document.read_text(encoding="utf-8")):
        sources = [ROOT / path] if (ROOT / path).is_file() else list((ROOT / "tests").rglob(path or "-"))
        if len(sources) != 1 or not re.search(rf"^\s*(async\s+)?def {name}\b", sources[0].read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert missing == [], f"{document.name} names tests that do not exist"
