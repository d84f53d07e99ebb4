"""Migration 0008_tool_calls: the functions a model called, per generation and per cached answer.

`tool_calls` is a JSON list of {name, arguments, id}, `arguments` as the model wrote them (text),
null for an answer without calls. Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("alter table generations add column tool_calls json")
    con.execute("alter table response_cache add column tool_calls json")
