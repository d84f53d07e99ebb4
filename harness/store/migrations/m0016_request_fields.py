"""Migration 0016_request_fields: the request surface a generation was sent with, so that a reader
sees the request as the model saw it.

- `generations.request_fields`: JSON of what went beside the messages, as the Chat Completions API
  names it (tools, tool_choice, response_format, top_p, parallel_tool_calls, penalties, logit_bias,
  reasoning_effort: those set); null for a request with none. `prompt` keeps the messages.
Rows written before this migration have nulls: the surface was not kept.
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("alter table generations add column request_fields json")
