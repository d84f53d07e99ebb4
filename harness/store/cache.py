"""The response cache table: look answers up by key, add fresh ones, clear them.

A key joins who answered (the profile's content hash and the model revision the provider reported)
with what was asked (`GenRequest.key()`: messages or prompt and every decoding setting), so a changed
profile, new weights or another decoding setting can never be served an old answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from harness.digest import sha256_hex
from harness.errors import HarnessError
from harness.store.bulk import insert_rows
from harness.store.db import Store
from harness.store.reads import fetch_table

CACHE_COLUMNS = (
    "cache_key", "provider", "profile_hash", "revision", "request_key", "response", "finish_reason",
    "input_tokens", "output_tokens", "latency_ms", "fingerprint", "model_reported", "run_id", "tool_calls",
    "json_decoding",
)


def cache_key(profile_hash: str, revision: str | None, request_key: str) -> str:
    """The cache key for one request to one provider identity."""
    blob = "\x1f".join((profile_hash, revision or "", request_key))
    return sha256_hex(blob, 40)


def lookup(store: Store, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Return the cached rows among `keys` (one short transaction), as dicts keyed by cache key."""
    if not keys:
        return {}
    with store.connect() as con:
        cursor = con.execute(
            f"select {', '.join(CACHE_COLUMNS)} from response_cache"
            " where cache_key in (select unnest(?::varchar[]))",
            [list(keys)],
        )
        rows = cursor.fetchall()
    return {row[0]: dict(zip(CACHE_COLUMNS, row, strict=True)) for row in rows}


def insert(con: duckdb.DuckDBPyConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Add rows (keys: CACHE_COLUMNS) inside the caller's transaction; an existing key wins."""
    insert_rows(con, "response_cache", rows, on_conflict="ignore")


def clear(store: Store, provider: str | None = None) -> int:
    """Delete cached responses (all, or one provider profile's); return how many went."""
    if not store.path.exists():
        raise HarnessError(f"no database at {store.path}; nothing cached")
    where, params = ("where provider = ?", [provider]) if provider else ("", [])
    with store.connect() as con:
        con.execute("begin transaction")
        count = con.execute(f"select count(*) from response_cache {where}", params).fetchone()
        con.execute(f"delete from response_cache {where}", params)
        con.execute("commit")
    return int(count[0]) if count else 0


def stats(store: Store) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Cached responses per provider profile: count, distinct profile versions, oldest and newest."""
    with store.connect(read_only=True) as con:
        cursor = con.execute(
            "select provider, count(*) as responses, count(distinct profile_hash) as profile_versions,"
            " min(created_at) as oldest, max(created_at) as newest from response_cache"
            " group by provider order by provider"
        )
        return fetch_table(cursor)
