"""Writes of `traffic_imports`: what each imported traffic suite is made of (the report reads it)."""

from __future__ import annotations

from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store

IMPORT_COLUMNS = (
    "suite", "imported_at", "file_name", "file_sha256", "shape", "n_requests", "n_tools", "n_json", "n_text",
    "n_without_expected", "credentials_removed", "redacted", "redactions", "incumbent", "run_id",
)


def record_import(store: Store, row: dict[str, Any]) -> None:
    with store.connect() as con:
        insert_rows(con, "traffic_imports", [{c: row[c] for c in IMPORT_COLUMNS}])

