"""Data-parallel evaluation with accelerate (gloo on CPU): two processes give the same per-sample
responses as one, and only the main process writes the store."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_harness

pytestmark = pytest.mark.slow


def _responses(db: Path, run_id: str) -> dict[tuple[str, int], tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select task, doc_id, response, filtered from samples where run_id = ?", [run_id]).fetchall()
    finally:
        con.close()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def _latest(db: Path) -> tuple[str, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("select run_id, n_requests, provider_calls from runs where status = 'complete'"
                          " order by started_at desc limit 1").fetchone()
    finally:
        con.close()
    assert row is not None
    return row


def test_two_processes_match_one(isolated_runs: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    started = time.monotonic()
    two = run_harness("eval", "-p", "smollm2", "--processes", "2", "--no-cache")
    two_s = time.monotonic() - started
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("samples in") == 1  # one report, from the main process
    run_two, n_two, calls_two = _latest(db)
    started = time.monotonic()
    one = run_harness("eval", "-p", "smollm2", "--no-cache")
    one_s = time.monotonic() - started
    assert one.returncode == 0, one.stderr[-3000:]
    run_one, n_one, _ = _latest(db)
    assert run_one != run_two
    # Docs with identical requests are asked once per process, so the split can add a call or two.
    assert n_two == n_one == 72 and 70 <= calls_two <= 72
    with_two, with_one = _responses(db, run_two), _responses(db, run_one)
    assert len(with_two) == 72
    assert with_two == with_one
    print(f"smoke on smollm2: 2 processes {two_s:.1f} s, 1 process {one_s:.1f} s (wall, incl. start-up)")
