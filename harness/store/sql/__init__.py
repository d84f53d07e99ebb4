"""The one current definition of every SQL view and macro, applied by hash.

Migrations (harness/store/migrations/) change tables, columns and data; every view and macro is
defined here once, as a `create or replace` statement, one module per topic. To change one, edit its
definition: `apply_definitions` re-creates the views and macros on the next writing connection when
any recorded sha256 (table `schema_objects`) differs, and drops the ones no longer defined.
"""

from __future__ import annotations

from contextlib import suppress

import duckdb

from harness.store.sql import comparison, constraints, failures, helpers, judges, pairs, risk, runs
from harness.store.sql.definition import Definition

__all__ = ["ALL", "RETIRED", "Definition", "apply_definitions", "is_current", "recorded"]

# Dependency order: DuckDB binds a view or macro when it is created, so what it uses comes first.
ALL: list[Definition] = [
    *helpers.DEFINITIONS, *runs.DEFINITIONS, *comparison.DEFINITIONS, *failures.DEFINITIONS,
    *judges.DEFINITIONS, *risk.DEFINITIONS, *constraints.DEFINITIONS, *pairs.DEFINITIONS,
]

# Objects that migrations created before `schema_objects` existed and that nothing defines now (name ->
# kind). Later removals need no entry: a definition taken out of ALL is dropped where it was recorded.
RETIRED: dict[str, str] = {"lh_risk_score": "macro"}  # superseded by lh_risk_score7 (0012)

Recorded = dict[str, tuple[str, str]]  # name -> (kind, sha256)

_TABLE = """
    create table if not exists schema_objects (
        name varchar primary key, kind varchar not null, sha256 varchar not null,
        applied_at timestamp default current_timestamp)
"""


def _check_unique(definitions: list[Definition]) -> None:
    seen: set[str] = set()
    for definition in definitions:
        if definition.name in seen:
            raise ValueError(f"SQL object {definition.name!r} is defined twice in harness.store.sql")
        seen.add(definition.name)


_check_unique(ALL)


def recorded(con: duckdb.DuckDBPyConnection) -> Recorded | None:
    """What `schema_objects` says is applied (one query); None when the table is missing."""
    try:
        rows = con.execute("select name, kind, sha256 from schema_objects").fetchall()
    except duckdb.CatalogException:
        return None
    return {name: (kind, sha256) for name, kind, sha256 in rows}


def is_current(state: Recorded | None) -> bool:
    """Whether the recorded objects are exactly ALL, each with its current hash."""
    return state is not None and state == {d.name: (d.kind, d.sha256) for d in ALL}


def _drops(name: str, kind: str) -> list[str]:
    if kind == "view":
        return [f"drop view if exists {name}"]
    # Scalar and table macros are dropped apart (`drop macro table` takes table macros only).
    return [f"drop macro if exists {name}", f"drop macro table if exists {name}"]


def apply_definitions(con: duckdb.DuckDBPyConnection) -> bool:
    """Bring every view and macro up to date, in one transaction of its own (call it outside one).

    A no-op, with no writes, when every recorded hash matches. Otherwise it drops what is no longer
    defined (or whose kind changed), re-creates ALL in order (a view may use a macro and a macro a
    view, so re-creating everything is simplest and safe) and records the hashes. Returns whether
    anything was written.
    """
    state = recorded(con)
    if is_current(state):
        return False
    old = state or {}
    current = {d.name: d for d in ALL}
    gone = {name: kind for name, (kind, _) in old.items() if name not in current or current[name].kind != kind}
    gone.update({name: kind for name, kind in RETIRED.items() if name not in current})
    con.execute("begin transaction")
    try:
        con.execute(_TABLE)
        for name, kind in gone.items():
            for statement in _drops(name, kind):
                con.execute(statement)
        for definition in ALL:
            con.execute(definition.sql)
        for name in old.keys() - current.keys():
            con.execute("delete from schema_objects where name = ?", [name])
        for d in ALL:
            if d.name not in old:
                con.execute("insert into schema_objects (name, kind, sha256) values (?, ?, ?)",
                            [d.name, d.kind, d.sha256])
            elif old[d.name] != (d.kind, d.sha256):
                con.execute("update schema_objects set kind = ?, sha256 = ?, applied_at = current_timestamp"
                            " where name = ?", [d.kind, d.sha256, d.name])
        con.execute("commit")
    except Exception:
        with suppress(duckdb.Error):  # a failed commit already ended it; keep the original error
            con.execute("rollback")
        raise
    return True
