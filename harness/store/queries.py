"""Read-side queries: ad-hoc SQL and run summaries, on read-only connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from harness.errors import HarnessError
from harness.store.db import Store
from harness.store.reads import fetch_dicts, fetch_table

Table = tuple[list[str], list[tuple[Any, ...]]]


def run_query(db: Path, query: str) -> Table:
    """Run one query read-only; SQL errors become one line."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise HarnessError(f"SQL error: {' '.join(str(exc).split())}") from exc
        return fetch_table(cursor)


def list_runs(db: Path) -> Table:
    """Stored runs, newest first: id, provider, suite, status, start, wall time, requests."""
    return run_query(db, "select run_id, provider, suite, status, started_at, round(wall_s, 1) as wall_s,"
                         " n_requests from runs order by started_at desc")


def show_run(db: Path, run_id: str) -> tuple[dict[str, Any], Table]:
    """Return (run row as a dict, (score columns, score rows)) or raise if the run is unknown."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        runs = fetch_dicts(con.execute("select * from runs where run_id = ?", [run_id]))
        if not runs:
            raise HarnessError(f"no run '{run_id}' in {db}")
        scores = con.execute(
            "select task, metric, filter, value, stderr, n, weight from task_scores where run_id = ? order by task",
            [run_id],
        )
        return runs[0], fetch_table(scores)
