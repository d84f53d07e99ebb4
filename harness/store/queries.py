"""Read-side queries: ad-hoc SQL and run summaries, on read-only connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from harness.errors import HarnessError
from harness.store.db import Store
from harness.store.reads import fetch_dicts, fetch_table

Table = tuple[list[str], list[tuple[Any, ...]]]


# `harness sql` reads the store and nothing else: no files (COPY, EXPORT, read_csv, glob, ATTACH), no
# extensions (INSTALL, LOAD, auto-loading), and the configuration locked so a query cannot undo it.
_SANDBOX = (
    "set autoinstall_known_extensions = false", "set autoload_known_extensions = false",
    "set enable_external_access = false", "set lock_configuration = true",
)


def run_query(db: Path, query: str) -> Table:
    """Run a query on a read-only connection that can reach nothing but the database; SQL errors
    (including what the sandbox refuses) become one line."""
    if not query.strip():
        raise HarnessError("empty SQL query; e.g. harness sql \"select * from runs\"")
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        for setting in _SANDBOX:
            con.execute(setting)
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise HarnessError(f"SQL error: {' '.join(str(exc).split())}") from exc
        return fetch_table(cursor)


def list_runs(db: Path) -> Table:
    """Stored runs, newest first: id, provider, suite, status, start, wall time, requests, errors, and
    the process that owns the row (pid, host: to tell a crash from a live run)."""
    return run_query(db, "select run_id, provider, suite, status, started_at, round(wall_s, 1) as wall_s,"
                         " n_requests, n_errors, pid, host from runs order by started_at desc")


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
