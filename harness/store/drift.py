"""Writes of drift checks (migration 0012): one row per task of each `harness drift` comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store


def record_drift(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    with store.connect() as con:
        insert_rows(con, "drift_checks", list(rows))
