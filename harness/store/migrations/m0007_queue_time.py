"""Migration 0007_queue_time: how long each generation waited before it was worked on, apart from
its latency, and what a run's latencies mean.

`generations.queue_ms`: the wait for a rate limit or a concurrency slot (API), or for a batch slot
(local). `runs.latency_basis`: 'request' (an API's per-request time) or 'batch' (a local batch
engine: a sample's time inside a batch it shares, bound by throughput, not a request's latency).
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("alter table generations add column queue_ms double")
    con.execute("alter table runs add column latency_basis varchar")
    con.execute("""
        update runs r set latency_basis = case when p.kind = 'hf' then 'batch' else 'request' end
        from providers p where p.profile_hash = r.profile_hash""")
