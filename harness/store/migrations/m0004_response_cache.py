"""Migration 0004_response_cache: answers keyed by who answered and what was asked, so nothing is paid for twice.

Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    # Answers keyed by who answered (profile hash + model revision) and what was asked (request key),
    # so a re-run or a resume never pays twice for the same generation. Errors are never stored here.
    con.execute("""
        create table response_cache (
            cache_key varchar primary key, provider varchar not null, profile_hash varchar not null,
            revision varchar, request_key varchar not null, response varchar not null,
            finish_reason varchar, input_tokens integer, output_tokens integer, latency_ms double,
            fingerprint varchar, model_reported varchar, run_id varchar,
            created_at timestamp default current_timestamp)""")
    # Which generations came from the cache rather than a provider call.
    con.execute("alter table generations add column cached boolean default false")
    # Per run: what the cache saved, and which process owns a 'running' row (to tell a crash from a live run).
    for column in ("cache_hits integer", "provider_calls integer", "resumes integer default 0",
                   "pid integer", "host varchar"):
        con.execute(f"alter table runs add column {column}")
