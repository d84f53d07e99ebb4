"""Ordered, named schema migrations, recorded in `schema_migrations`, then the SQL views and macros.

Migrations change tables, columns and data only. Append new ones at the end; never edit or reorder
one that has shipped. Views and macros live in harness/store/sql/ (one current definition each,
re-applied by hash after the migrations): changing one is an edit of its definition, not a migration.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import duckdb

from harness.errors import HarnessError
from harness.store import sql
from harness.store.migrations import (
    m0001_initial,
    m0002_run_agreement,
    m0003_analysis,
    m0004_response_cache,
    m0005_capabilities_risk,
    m0006_errors_do_not_vote,
    m0007_queue_time,
    m0008_tool_calls,
    m0009_traffic,
    m0010_failure_modes,
    m0011_judges,
    m0012_operations,
    m0013_load,
    m0014_gap_tests,
    m0015_constraints,
    m0016_request_fields,
    m0017_traffic_rhythm,
)

Migration = Callable[[duckdb.DuckDBPyConnection], None]

MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial", m0001_initial.apply),
    ("0002_run_agreement", m0002_run_agreement.apply),
    ("0003_analysis", m0003_analysis.apply),
    ("0004_response_cache", m0004_response_cache.apply),
    ("0005_capabilities_risk", m0005_capabilities_risk.apply),
    ("0006_errors_do_not_vote", m0006_errors_do_not_vote.apply),
    ("0007_queue_time", m0007_queue_time.apply),
    ("0008_tool_calls", m0008_tool_calls.apply),
    ("0009_traffic", m0009_traffic.apply),
    ("0010_failure_modes", m0010_failure_modes.apply),
    ("0011_judges", m0011_judges.apply),
    ("0012_operations", m0012_operations.apply),
    ("0013_load", m0013_load.apply),
    ("0014_gap_tests", m0014_gap_tests.apply),
    ("0015_constraints", m0015_constraints.apply),
    ("0016_request_fields", m0016_request_fields.apply),
    ("0017_traffic_rhythm", m0017_traffic_rhythm.apply),
]


def migrate(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool = False) -> None:
    """Apply missing migrations in order, then bring the views and macros up to date; refuse a
    database made by a newer harness. Costs no writes (one read each) when all is current."""
    known = [name for name, _ in MIGRATIONS]
    tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    if tables and "schema_migrations" not in tables:  # someone else's database: change nothing in it
        raise HarnessError(f"{path} is not a lockin-harness database (it has tables such as "
                           f"'{sorted(tables)[0]}' but no schema_migrations); use another --db")
    applied: list[str] = []
    if "schema_migrations" in tables:
        applied = [r[0] for r in con.execute("select name from schema_migrations order by id").fetchall()]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise HarnessError(
            f"{path} has schema migration '{unknown[0]}' that this harness does not know; upgrade lockin-harness"
        )
    # Ids count applications, so a migration that reaches a database later still gets a fresh one.
    pending = [(len(applied) + i, name, fn)
               for i, (name, fn) in enumerate([m for m in MIGRATIONS if m[0] not in applied], 1)]
    if pending and read_only:
        raise HarnessError(f"{path} needs schema migrations; run any writing command (e.g. harness eval) first")
    if pending and "schema_migrations" not in tables:
        con.execute(
            "create table schema_migrations (id integer primary key, name varchar not null unique,"
            " applied_at timestamp default current_timestamp)"
        )
    for migration_id, name, fn in pending:
        con.execute("begin transaction")
        try:
            fn(con)
            con.execute("insert into schema_migrations (id, name) values (?, ?)", [migration_id, name])
            con.execute("commit")
        except Exception:
            with suppress(duckdb.Error):  # a failed commit already ended it; keep the original error
                con.execute("rollback")
            raise
    # Migrations never create schema_objects, so the table list read above still tells whether it exists.
    if sql.is_current(sql.recorded(con) if "schema_objects" in tables else None):
        return
    if read_only:
        raise HarnessError(f"{path} needs its SQL views updated; run any writing command (e.g. harness eval) first")
    sql.apply_definitions(con)  # in one transaction of its own
