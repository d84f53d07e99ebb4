"""Migration 0017_traffic_rhythm: an import's rhythm and token spreads, so that a bill can be sized
from the team's own traffic when it gives no figures (harness.traffic.rhythm has the definitions).

- `traffic_imports.n_timed`, `first_at`, `last_at`: the requests that carry a time (a log line's
  `timestamp`, or its answer's `created`), and the span they cover (UTC).
- `traffic_imports.requests_per_day`: n_timed over that span; null below two timed requests or an
  hour of span (too short to size a day from).
- `traffic_imports.busiest_minute`, `peak_factor`: the most requests in any 60 seconds, and that
  against the mean per minute over the span; null where the rate is.
- `traffic_imports.rhythm_note`: why a figure is null, or what the figures leave out.
- `traffic_tokens`: per import and kind of request (tools, json, text), p50, p95 and max of the
  logged `usage.prompt_tokens` (input) and `usage.completion_tokens` (output), each with how many
  requests reported it; no row for a kind whose answers report no usage.
Imports made before this migration have nulls and no token rows: their times were not kept.
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for column, kind in (("n_timed", "integer"), ("first_at", "timestamp"), ("last_at", "timestamp"),
                         ("requests_per_day", "double"), ("busiest_minute", "integer"), ("peak_factor", "double"),
                         ("rhythm_note", "varchar")):
        con.execute(f"alter table traffic_imports add column {column} {kind}")
    con.execute("""
        create table traffic_tokens (
            suite varchar not null, imported_at timestamp not null, kind varchar not null,
            n_input integer not null, input_p50 double, input_p95 double, input_max integer,
            n_output integer not null, output_p50 double, output_p95 double, output_max integer,
            primary key (suite, imported_at, kind))""")
