"""Run agreement rows: per task, how often two runs answered alike; replaced on each computation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store, rollback


def replace_agreement(store: Store, run_a: str, run_b: str, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the stored agreement of (run_a, run_b) with `rows` (task, n, same_* counts)."""
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from run_agreement where run_a = ? and run_b = ?", [run_a, run_b])
            insert_rows(con, "run_agreement", [{"run_a": run_a, "run_b": run_b, **row} for row in rows])
            con.execute("commit")
        except Exception:
            rollback(con)
            raise
