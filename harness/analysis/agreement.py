"""Per-task agreement between two runs on the same docs: identical raw, filtered and scored answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.store import Store

_AGREEMENT = """
    select a.task, count(*) as n,
           count(*) filter (where a.response = b.response) as same_response,
           count(*) filter (where a.filtered = b.filtered) as same_filtered,
           count(*) filter (where a.score = b.score) as same_score
    from samples a join samples b using (task, doc_id, filter, metric)
    where a.run_id = ? and b.run_id = ?
    group by a.task order by a.task
"""


def record_agreement(db: Path, run_a: str, run_b: str) -> list[dict[str, Any]]:
    """Compute, store (replacing an earlier computation) and return per-task agreement rows."""
    store = Store(db)
    with store.connect() as con:
        found = {r[0] for r in con.execute(
            "select run_id from runs where run_id in (?, ?) and status = 'complete'", [run_a, run_b]).fetchall()}
        missing = [r for r in (run_a, run_b) if r not in found]
        if missing:
            raise HarnessError(f"no complete run '{missing[0]}' in {db}")
        cursor = con.execute(_AGREEMENT, [run_a, run_b])
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        if not rows:
            raise HarnessError(f"runs {run_a} and {run_b} share no scored docs")
        con.execute("begin transaction")
        con.execute("delete from run_agreement where run_a = ? and run_b = ?", [run_a, run_b])
        con.executemany(
            "insert into run_agreement (run_a, run_b, task, n, same_response, same_filtered, same_score)"
            " values (?, ?, ?, ?, ?, ?, ?)",
            [[run_a, run_b, r["task"], r["n"], r["same_response"], r["same_filtered"], r["same_score"]] for r in rows],
        )
        con.execute("commit")
    return rows
