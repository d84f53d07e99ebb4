"""Migration 0013_load: latency under load (`harness load`), the numbers capacity is sized from.

- `load_runs`: one row per load test: the profile (and its hash), the endpoint, the model and
  fingerprint the server reported, what was sent (`traffic:NAME` or `suite:NAME`), the levels, and
  `status` ('complete', or 'partial' when the server died or failed mid-run, with a note).
- `load_points`: one row per concurrency level: requests, errors, wall time, request and output-token
  throughput, and p50/p95/p99 of time to first token, inter-token latency and end-to-end latency.
- `load_requests`: every request's timings (for any percentile or plot a team wants in SQL).
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb

_TABLES = """
    create table load_runs (
        load_id varchar primary key, provider varchar not null, profile_hash varchar not null, model varchar,
        base_url varchar, model_reported varchar, fingerprint varchar, source varchar not null,
        duration_s double, levels json, status varchar not null, note varchar, started_at timestamp not null,
        finished_at timestamp);
    create table load_points (
        load_id varchar not null, concurrency integer not null, n_requests integer, n_ok integer, n_errors integer,
        error_rate double, wall_s double, rps double, output_tps double, mean_output_tokens double,
        ttft_p50_ms double, ttft_p95_ms double, ttft_p99_ms double, itl_p50_ms double, itl_p95_ms double,
        itl_p99_ms double, e2e_p50_ms double, e2e_p95_ms double, e2e_p99_ms double, partial boolean,
        first_error varchar, primary key (load_id, concurrency));
    create table load_requests (
        load_id varchar not null, seq integer not null, concurrency integer not null, ok boolean not null,
        error varchar, ttft_ms double, itl_ms double, e2e_ms double, output_tokens integer,
        primary key (load_id, seq));
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_TABLES)
