"""Read-side queries: ad-hoc SQL and run summaries, on read-only connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from harness.errors import HarnessError
from harness.store.db import Store


def run_query(db: Path, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query read-only; SQL errors become one line."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise HarnessError(f"SQL error: {' '.join(str(exc).split())}") from exc
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()


def show_run(db: Path, run_id: str) -> tuple[dict[str, Any], tuple[list[str], list[tuple[Any, ...]]]]:
    """Return (run row as a dict, (score columns, score rows)) or raise if the run is unknown."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        cursor = con.execute("select * from runs where run_id = ?", [run_id])
        row = cursor.fetchone()
        if row is None:
            raise HarnessError(f"no run '{run_id}' in {db}")
        run = dict(zip([d[0] for d in cursor.description], row, strict=True))
        scores = con.execute(
            "select task, metric, filter, value, stderr, n, weight from task_scores where run_id = ? order by task",
            [run_id],
        )
        columns = [d[0] for d in scores.description]
        return run, (columns, scores.fetchall())
