"""Migration 0010_failure_modes: no table change. It once created the failure taxonomy's macros,
`sample_classes` and `failure_modes`; those now live in harness/store/sql/failures.py (a change to
one is an edit of its one definition, re-applied by hash; a table change is a new migration). The
migration stays in the list so databases that recorded it keep their history.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Nothing to change in the tables."""
