"""Probed capabilities: one row per provider x capability, replaced whole on each probe."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.store.db import Store


def replace_capabilities(store: Store, provider: str, profile_hash: str, rows: Sequence[dict[str, Any]]) -> None:
    """Swap a provider's probe results in one transaction: probing again never duplicates rows."""
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from capabilities where provider = ?", [provider])
            con.executemany(
                "insert into capabilities (provider, profile_hash, capability, status, value, evidence)"
                " values (?, ?, ?, ?, ?, ?)",
                [[provider, profile_hash, r["capability"], r["status"], r["value"], json.dumps(r["evidence"])]
                 for r in rows],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
