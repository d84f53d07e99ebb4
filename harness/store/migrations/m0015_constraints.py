"""Migration 0015_constraints: whether each output kept to the structure its request asked for, and
what a replay changed in the request as logged.

- `generations.constraint_asked`: 'json_schema', 'json_object' or 'tool_call' (a call required or
  made); null when the request asked for no structure or the answer errored.
- `generations.constraint_violation`: null when the output keeps to it, else the first way it breaks
  it (harness.traffic.conformance): invalid_json, schema_violation, missing_call, unoffered_function,
  wrong_function, invalid_arguments. Beside `json_decoding` it shows a constraint that failed open.
- `generations.cap_origin`: where a replayed request's token cap came from: 'logged' (the log's own
  max_tokens), 'incumbent_output' (no cap logged: a multiple of the incumbent's output tokens),
  'import_default' (no cap and no logged answer); null for benchmark requests. A 'length' stop under
  a cap the log did not set is the harness's truncation.
- `generations.request_notes`: what the harness sent otherwise than the log did, and why, one clause
  per field ('; '-separated); null when the request went as logged.
- `response_cache.json_decoding`: what held a cached answer's format, so a cache hit reports it too.
Rows written before this migration have nulls: they were not checked.
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for column in ("constraint_asked", "constraint_violation", "cap_origin", "request_notes"):
        con.execute(f"alter table generations add column {column} varchar")
    con.execute("alter table response_cache add column json_decoding varchar")
