"""`traffic_imports` and `traffic_tokens`: what each imported traffic suite is made of, its rhythm and
the tokens its requests take (the report shows them; a bill is sized from them)."""

from __future__ import annotations

from typing import Any

import duckdb

from harness.store.bulk import insert_rows
from harness.store.db import Store
from harness.store.reads import fetch_dicts

IMPORT_COLUMNS = (
    "suite", "imported_at", "file_name", "file_sha256", "shape", "n_requests", "n_tools", "n_json", "n_text",
    "n_without_expected", "credentials_removed", "redacted", "redactions", "incumbent", "run_id",
    "n_timed", "first_at", "last_at", "requests_per_day", "busiest_minute", "peak_factor", "rhythm_note",
)
TOKEN_COLUMNS = ("kind", "n_input", "input_p50", "input_p95", "input_max", "n_output", "output_p50", "output_p95",
                 "output_max")

# The newest import of each suite the given runs were made on.
_LATEST = """
    select * from traffic_imports
    where suite in (select distinct suite from runs where run_id in (select unnest(?::varchar[])))
    qualify row_number() over (partition by suite order by imported_at desc) = 1 order by suite
"""


def record_import(store: Store, row: dict[str, Any], tokens: list[dict[str, Any]]) -> None:
    """One import's row and its token spreads (one per kind of request), together."""
    key = {"suite": row["suite"], "imported_at": row["imported_at"]}
    with store.connect() as con:
        con.execute("begin transaction")
        insert_rows(con, "traffic_imports", [{c: row[c] for c in IMPORT_COLUMNS}])
        insert_rows(con, "traffic_tokens", [{**key, **{c: spread[c] for c in TOKEN_COLUMNS}} for spread in tokens])
        con.execute("commit")


def latest_imports(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[dict[str, Any]]:
    """The newest import of each traffic suite among the runs' suites (none for a suite not imported)."""
    return fetch_dicts(con.execute(_LATEST, [run_ids]))


def import_tokens(con: duckdb.DuckDBPyConnection, suite: str, imported_at: Any) -> list[dict[str, Any]]:
    """One import's token spreads, a row per kind of request."""
    return fetch_dicts(con.execute("select * from traffic_tokens where suite = ? and imported_at = ? order by kind",
                                   [suite, imported_at]))
