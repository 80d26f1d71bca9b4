"""The benchmark's quick mode, end to end, so that it cannot rot: it runs, tabulates, and loses nothing.

Timings are never asserted here (they belong to `make bench` and docs/performance.md); only that every
scenario produced its figures and that no message, start or invariant was lost on the way, not even when a web
worker is killed under its sockets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(330)]


def _quick_run(results_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL)
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--results-dir", str(results_dir), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=320,
    )
    assert done.returncode == 0, f"bench.run failed:\n{done.stdout}\n{done.stderr}"
    files = list(results_dir.glob("*.json"))
    assert len(files) == 1, files
    return done, json.loads(files[0].read_text())


def test_quick_bench_prints_a_table_and_writes_every_figure_with_nothing_lost(tmp_path: Path) -> None:
    # Given the product and the bare relay started by the benchmark on this machine's servers
    # When the quick run goes through every scenario
    done, report = _quick_run(tmp_path)

    # Then it printed the Markdown table
    assert "| figure | unit | product, median" in done.stdout
    assert "| relay: highest rate, nothing lost" in done.stdout
    # And the JSON holds the run's context and every scenario's raw runs
    assert {"command", "machine", "versions", "layer", "server", "summary", "runs", "table"} <= report.keys()
    assert report["layer"] == "pubsub" and report["server"] == "daphne"
    assert set(report["runs"]) == {"relay", "idle", "assignment", "burst", "failover"}
    # ... one run of each (the quick mode's), so the checks below cannot pass on an empty list
    assert {scenario: len(runs) for scenario, runs in report["runs"].items()} == {
        "relay": 1,
        "idle": 1,
        "assignment": 1,
        "burst": 1,
        "failover": 1,
    }
    figures = {row["figure"] for row in report["summary"]}
    assert any(figure.startswith("idle: memory per socket") for figure in figures)
    # And nothing was lost: relayed messages at the fixed rates, starts, sockets, the burst's invariants
    for run in report["runs"]["relay"]:
        for side in ("product", "bare"):
            fixed = run[side]["fixed"]
            assert [step["rate_target"] for step in fixed] == report["sizes"]["relay_fixed_rates"]
            assert all(step["lost"] == step["never_delivered"] == step["errors"] == 0 for step in fixed), fixed
    for run in report["runs"]["idle"]:
        for side in ("product", "bare"):
            assert run[side]["alive_after_rest"] == run[side]["sockets"] == report["sizes"]["idle_sockets"]
    for run in report["runs"]["assignment"]:
        assert run["unassigned"] == 0 and run["errors"] == 0
    for run in report["runs"]["failover"]:
        assert run["all_recovered"] and run["never_reconnected"] == run["never_synced"] == 0
        assert run["messages_lost"] == run["errors"] == 0 and run["messages_stored"] > 0
    for run in report["runs"]["burst"]:
        assert run["filled"] == run["slots"] == run["db_active"]
        assert run["db_waiting"] == run["customers"] - run["slots"]
        assert run["frames_conversations_held_twice"] == run["frames_agents_over_capacity"] == 0
        assert run["db_conversations_held_twice"] == run["db_agents_over_capacity"] == 0


def test_the_reports_scenario_fills_its_line_and_reads_every_figure(tmp_path: Path) -> None:
    """Not in the quick run (a million conversations in the full one): its quick size, alone."""
    done, report = _quick_run(tmp_path, "--scenarios", "reports")

    assert set(report["runs"]) == {"reports"}
    (run,) = report["runs"]["reports"]
    assert (run["conversations"], run["rows_per_page"]) == (2000, 100)
    assert set(run) >= {
        "summary_year_ms",
        "summary_month_ms",
        "rows_first_page_ms",
        "rows_next_page_ms",
        "page_month_ms",
        "page_year_ms",
    }
    assert "| reports: the summary over 2,000 conversations over a year" in done.stdout
