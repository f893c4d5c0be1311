"""scripts/bench in its smoke mode: the benchmark itself works and produces its JSON and its chart.

Not a timed test: no number is checked against a target here (the machine running CI is not the one
docs/performance.md's tables were measured on), only that every kind of measurement ran and was
reported. The scale simulation runs too, with a few containers through a real PgBouncer (so this test
needs PostgreSQL and PgBouncer, as the `pgbouncer` fixture does: skipped without them, failed in CI);
what it must prove holds at any size: no error, no more server connections than PgBouncer's pool
though more containers, all connected at once, and one customer from the race.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_writes_json_and_png(tmp_path: Path, pgbouncer) -> None:
    result, chart = tmp_path / "result.json", tmp_path / "chart.png"
    done = subprocess.run([str(ROOT / "scripts" / "bench"), "--smoke", "--json", str(result), "--png", str(chart)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(result.read_text())
    groups = {row["group"] for row in data["rows"]}
    assert groups == {"loadgen", "overhead", "cold", "http", "servers", "tail", "scale"}, done.stderr[-3000:]
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
    scale = [row for row in data["rows"] if row["group"] == "scale"]
    containers, pool = scale[0]["containers"], scale[0]["pool_size"]
    assert containers > pool  # more clients than server connections: PgBouncer multiplexes them
    assert scale[0]["pgbouncer_clients"] == containers and 0 < scale[0]["server_connections"] <= pool
    assert [row["race_customers"] for row in scale if "race_customers" in row] == [1]
    assert data["targets"] and all(isinstance(t["met"], bool) and t["value"] is not None for t in data["targets"])
    assert all(t["met"] for t in data["targets"] if t["group"] == "scale"), data["targets"]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| target | measured | limit | met |" in done.stdout  # the markdown tables for docs/performance.md
    assert "containers via PgBouncer, new |" in done.stdout
    check_write_docs(data, tmp_path)


def check_write_docs(result: dict, tmp_path: Path) -> None:
    """--write-docs on copies of docs/performance.md and of a README with the short table's block:
    the blocks hold this run's tables (the README's at most five rows), the text around them is kept."""
    sys.path.insert(0, str(ROOT / "scripts" / "lib"))
    import bench  # noqa: PLC0415  (scripts/lib/bench.py)

    docs, readme = tmp_path / "performance.md", tmp_path / "README.md"
    docs.write_text((ROOT / "docs" / "performance.md").read_text())
    readme.write_text("# Title\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\nAfter.\n")
    bench.write_docs(result, docs=docs, readme=readme)
    written = docs.read_text()
    assert bench.markdown(result) in written and bench.scale_markdown(result) in written
    assert written.split("<!-- bench:start -->")[0] == (ROOT / "docs" / "performance.md").read_text().split(
        "<!-- bench:start -->")[0]
    short = readme.read_text()
    assert short.startswith("# Title\n\n<!-- bench:start -->\n") and short.endswith("<!-- bench:end -->\n\nAfter.\n")
    rows = [line for line in short.splitlines() if line.startswith("| ") and not line.startswith("| measured")]
    assert 3 <= len(rows) <= bench.README_ROWS, short
