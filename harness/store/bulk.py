"""Bulk inserts through Arrow: DuckDB's executemany costs milliseconds a row, which at a few thousand
rows would hold the file (and keep readers waiting) for seconds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import duckdb


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[dict[str, Any]],
                on_conflict: Literal["fail", "replace", "ignore"] = "fail") -> None:
    """Insert dict rows inside the caller's transaction; an existing key fails, is replaced, or wins."""
    if not rows:
        return
    import pyarrow as pa

    batch = pa.Table.from_pylist(list(rows))
    verb = {"fail": "insert", "replace": "insert or replace", "ignore": "insert or ignore"}[on_conflict]
    con.register("_incoming", batch)
    try:
        columns = ", ".join(batch.column_names)
        con.execute(f"{verb} into {table} ({columns}) select {columns} from _incoming")
    finally:
        con.unregister("_incoming")
