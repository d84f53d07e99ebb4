"""Load tests (migration 0013): the run, one point per concurrency level, every request's timings;
and the prompts a suite's latest run sent, for load-testing with a suite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store, rollback


def record_load(store: Store, run: dict[str, Any], points: Sequence[dict[str, Any]],
                requests: Sequence[dict[str, Any]]) -> None:
    """The whole load test in one transaction."""
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            insert_rows(con, "load_runs", [run])
            insert_rows(con, "load_points", [{"load_id": run["load_id"], **p} for p in points])
            insert_rows(con, "load_requests", [{**r, "seq": i} for i, r in enumerate(requests)])
            con.execute("commit")
        except Exception:
            rollback(con)
            raise


def suite_prompts(store: Store, suite: str, limit: int = 1000) -> list[str]:
    """The distinct prompts of the suite's latest complete run (any provider), in doc order."""
    with store.connect(read_only=True) as con:
        rows = con.execute(
            "with r as (select run_id from runs where suite = ? and status = 'complete'"
            " order by finished_at desc limit 1)"
            " select g.prompt from generations g join r using (run_id) group by g.prompt"
            " order by min(g.task), min(g.doc_id) limit ?", [suite, limit]).fetchall()
    return [str(r[0]) for r in rows]
