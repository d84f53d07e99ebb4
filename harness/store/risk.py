"""Lock-in risk parts: one row per incumbent x candidate x suite, replaced on each assessment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store, rollback
from harness.store.reads import fetch_dicts


def replace_risk_parts(store: Store, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store the parts (replacing earlier ones for the same incumbent, candidate and suite) in one
    transaction; return their `risk_scores` rows, best (lowest) score first."""
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            for row in rows:
                con.execute("delete from risk_parts where incumbent = ? and candidate = ? and suite = ?",
                            [row["incumbent"], row["candidate"], row["suite"]])
            insert_rows(con, "risk_parts", rows)
            con.execute("commit")
        except Exception:
            rollback(con)
            raise
        incumbents = sorted({r["incumbent"] for r in rows})
        return fetch_dicts(con.execute(
            "select * from risk_scores where incumbent in (select unnest(?)) and suite in (select unnest(?))"
            " and candidate in (select unnest(?)) order by score, candidate",
            [incumbents, sorted({r["suite"] for r in rows}), [r["candidate"] for r in rows]]))
