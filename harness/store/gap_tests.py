"""Writes of computed comparison statistics (migration 0014): the latest result per key replaces the last."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store


def record_gap_tests(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Keep these rows, replacing any stored under the same (kind, pair_key, task, at_margin)."""
    if rows:
        with store.connect() as con:
            insert_rows(con, "gap_tests", list(rows), on_conflict="replace")
