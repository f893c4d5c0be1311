"""scripts/bench in its smoke mode: the benchmark itself works and produces its JSON and its chart.

Not a timed test: no number is checked against a target here (the machine running CI is not the one
the README's table was measured on), only that every kind of measurement ran and was reported.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_writes_json_and_png(tmp_path: Path) -> None:
    result, chart = tmp_path / "result.json", tmp_path / "chart.png"
    done = subprocess.run([str(ROOT / "scripts" / "bench"), "--smoke", "--json", str(result), "--png", str(chart)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(result.read_text())
    groups = {row["group"] for row in data["rows"]}
    assert groups == {"loadgen", "overhead", "cold", "http", "servers", "tail"}
    assert {r["scenario"] for r in data["rows"] if r["group"] == "tail"} == {
        "bare Flask endpoint, gunicorn -w 2", "bare Flask endpoint, gunicorn -w 2 (again, after)",
        "graphql existing, 2 connections, cold (a fresh emulator, no warm-up)",
        "graphql existing, 2 connections, after 0.5 s of it", "graphql existing, 4 connections, overload"}
    assert {r["scenario"] for r in data["rows"] if r["group"] == "cold"} >= {
        f"cold start {name} (emulator's launcher)" for name in ("verify-oauth", "upsert-customer", "issue-token",
                                                                 "graphql")}
    targets = {t["target"] for t in data["targets"]}
    assert any(t.startswith("tail: p99 / p50") for t in targets)
    assert any(t.startswith("overload: slowest answer") for t in targets)
    scenarios = {row["scenario"] for row in data["rows"] if row["group"] == "http"}
    assert {"bare Flask endpoint", "graphql existing", "graphql existing, mains in-process", "graphql new",
            "web existing", "web new"} <= scenarios
    assert data["config"]["server"] == "granian"
    assert {r["scenario"] for r in data["rows"] if r["group"] == "servers"} == {
        "bare Flask endpoint, gunicorn", "graphql existing, gunicorn"}  # the other server, to compare
    for row in data["rows"]:
        assert row["n"] > 0 and row["p50_ms"] > 0, row
        assert row["errors"] == 0, row  # every exchange answered a token
        assert not row.get("exhausted"), row  # a timed scenario ran for its whole time
    assert data["targets"] and all(isinstance(t["met"], bool) and t["value"] is not None for t in data["targets"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| target | measured | limit | met |" in done.stdout  # the markdown table for the README
