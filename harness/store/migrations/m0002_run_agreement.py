"""Migration 0002_run_agreement: how often two runs of one task answer alike.

Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    # E.g. one model through transformers and through an API server: do they answer alike?
    con.execute("""
        create table run_agreement (
            run_a varchar not null, run_b varchar not null, task varchar not null, n integer not null,
            same_response integer not null, same_filtered integer not null, same_score integer not null,
            computed_at timestamp default current_timestamp, primary key (run_a, run_b, task))""")
