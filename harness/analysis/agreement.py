"""Per-task agreement between two runs on the same docs: identical raw, filtered and scored answers.
Two runs of one model through different backends (transformers, an API server) should agree; how
often they do is the floor under any gap measured between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.store import Store
from harness.store.agreement import replace_agreement
from harness.store.reads import fetch_dicts

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
    """Compute per-task agreement rows, have the store keep them (replacing an earlier computation),
    and return them."""
    store = Store(db)
    with store.connect(read_only=True) as con:
        found = {r[0] for r in con.execute(
            "select run_id from runs where run_id in (?, ?) and status = 'complete'", [run_a, run_b]).fetchall()}
        missing = [r for r in (run_a, run_b) if r not in found]
        if missing:
            raise HarnessError(f"no complete run '{missing[0]}' in {db}")
        rows = fetch_dicts(con.execute(_AGREEMENT, [run_a, run_b]))
    if not rows:
        raise HarnessError(f"runs {run_a} and {run_b} share no scored docs")
    replace_agreement(store, run_a, run_b, rows)
    return rows
