"""Writes and reads of `traffic_imports`: what each imported traffic suite is made of."""

from __future__ import annotations

from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store
from harness.store.reads import fetch_dicts

IMPORT_COLUMNS = (
    "suite", "imported_at", "file_name", "file_sha256", "shape", "n_requests", "n_tools", "n_json", "n_text",
    "n_without_expected", "credentials_removed", "redacted", "redactions", "incumbent", "run_id",
)


def record_import(store: Store, row: dict[str, Any]) -> None:
    with store.connect() as con:
        insert_rows(con, "traffic_imports", [{c: row[c] for c in IMPORT_COLUMNS}])


def latest_imports(store: Store, suites: list[str]) -> list[dict[str, Any]]:
    """The newest import of each named suite (none for suites that were not imported)."""
    with store.connect(read_only=True) as con:
        return fetch_dicts(con.execute(
            "select * from traffic_imports where suite in (select unnest(?::varchar[]))"
            " qualify row_number() over (partition by suite order by imported_at desc) = 1 order by suite",
            [suites]))
