"""Reading helpers shared by every layer that queries the store on an open connection."""

from __future__ import annotations

import json
from typing import Any

import duckdb


def fetch_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The cursor's remaining rows as dicts keyed by column name (empty when it returned no columns)."""
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_table(cursor: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of the cursor, for printing as a table."""
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


def latest_profile(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, Any] | None:
    """The newest stored profile of a provider name: {profile (parsed JSON), profile_hash, model}, or None.
    A profile edited between runs is stored again under its new hash; analysis reads the newest."""
    row = con.execute("select profile_json, profile_hash, model from providers where name = ?"
                      " order by first_seen desc limit 1", [provider]).fetchone()
    if row is None:
        return None
    return {"profile": json.loads(row[0]), "profile_hash": row[1], "model": row[2]}
