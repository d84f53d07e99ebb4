"""Writes: provider and run rows, generations as they complete, and scores at the end of a run."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import duckdb

from harness.config.profiles import Profile
from harness.store import cache
from harness.store.bulk import insert_rows
from harness.store.db import Store, rollback


def record_provider(con: duckdb.DuckDBPyConnection, profile: Profile) -> str:
    """Store the profile (allow-listed fields only) under its content hash; return the hash."""
    digest = profile.content_hash()
    con.execute(
        "insert into providers (profile_hash, name, kind, model, revision, openness_class, licence, profile_json)"
        " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        [
            digest, profile.name, profile.kind, profile.model, profile.revision,
            profile.openness.class_, profile.openness.licence, json.dumps(profile.public_dict()),
        ],
    )
    return digest


@dataclass
class RunRow:
    run_id: str
    provider: str
    profile_hash: str
    suite: str
    suite_hash: str | None
    suite_features: list[str]
    tasks: list[str]
    status: str
    started_at: Any
    seed: int
    batch_size: int | None
    dtype: str | None
    chat_template: bool
    chat_template_hash: str | None
    limit_docs: int | None
    harness_version: str
    lm_eval_version: str
    transformers_version: str | None
    torch_version: str | None
    python_version: str
    git_sha: str | None
    provenance: str
    pid: int | None = None  # the process working on the run: a 'running' row without it is a crash
    host: str | None = None
    latency_basis: str = "request"  # or "batch": a local batch engine's per-sample time
    source: str = "live"  # or "imported": answers read from a team's log, no provider called


def insert_run(con: duckdb.DuckDBPyConnection, row: RunRow) -> None:
    names = [f.name for f in fields(row)]
    placeholders = ", ".join("?" for _ in names)
    con.execute(f"insert into runs ({', '.join(names)}) values ({placeholders})", [getattr(row, n) for n in names])


class GenerationCounts(Protocol):
    """Generations a run holds (`n`), how many errored, and their share."""

    @property
    def n(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def rate(self) -> float: ...


def finish_run(store: Store, run_id: str, status: str, error: str | None, wall_s: float, counts: GenerationCounts,
               cache_hits: int = 0, provider_calls: int = 0) -> None:
    """Mark the run; wall time and cache counts add up over the sessions of a resumed run, while the
    generation and error counts describe the run as it now stands."""
    with store.connect() as con:
        con.execute(
            "update runs set status = ?, error = ?, finished_at = current_timestamp,"
            " wall_s = coalesce(wall_s, 0) + ?, n_requests = ?, n_errors = ?, error_rate = ?,"
            " cache_hits = coalesce(cache_hits, 0) + ?, provider_calls = coalesce(provider_calls, 0) + ?"
            " where run_id = ?",
            [status, error, wall_s, counts.n, counts.errors, counts.rate, cache_hits, provider_calls, run_id],
        )


GENERATION_COLUMNS = (
    "run_id", "task", "doc_id", "request_key", "prompt", "response", "finish_reason", "input_tokens",
    "output_tokens", "latency_ms", "queue_ms", "error", "fingerprint", "model_reported", "retries", "cached",
    "tool_calls", "json_decoding", "constraint_asked", "constraint_violation", "cap_origin", "request_notes",
    "request_fields",
)


class RowSink(Protocol):
    """Where a run's generation and response-cache rows go as they complete."""

    def add(self, row: dict[str, Any]) -> None: ...
    def add_cache(self, row: dict[str, Any]) -> None: ...


class GenerationWriter:
    """Buffers generations (and fresh answers for the response cache) and commits them together in
    short transactions, at most every `every_s` seconds.

    Holding the file only briefly lets `harness sql` in another terminal read during a run; committing
    a generation and its cache row together means a crash keeps both or neither.
    """

    def __init__(self, store: Store, every_s: float = 2.0) -> None:
        self.store = store
        self.every_s = every_s
        self.pending: list[dict[str, Any]] = []
        self.pending_cache: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self.written = 0

    def add(self, row: dict[str, Any]) -> None:
        self.pending.append({c: row[c] for c in GENERATION_COLUMNS})
        if time.monotonic() - self.last_flush >= self.every_s:
            self.flush()

    def add_cache(self, row: dict[str, Any]) -> None:
        """Queue a response-cache row (keys: CACHE_COLUMNS); written with the next flush."""
        self.pending_cache.append(row)

    def extend(self, rows: Sequence[dict[str, Any]], cache_rows: Sequence[dict[str, Any]]) -> None:
        """Queue rows gathered elsewhere (another process's generations); written with the next flush."""
        self.pending.extend({c: row[c] for c in GENERATION_COLUMNS} for row in rows)
        self.pending_cache.extend(cache_rows)

    def flush(self) -> None:
        """Commit what is queued, generations and cache rows in one transaction."""
        self.last_flush = time.monotonic()
        if not self.pending and not self.pending_cache:
            return
        rows, self.pending = self.pending, []
        cache_rows, self.pending_cache = self.pending_cache, []
        with self.store.connect() as con:
            con.execute("begin transaction")
            insert_rows(con, "generations", rows, on_conflict="replace")
            cache.insert(con, cache_rows)
            con.execute("commit")
        self.written += len(rows)


def write_scores(
    store: Store, samples: Sequence[dict[str, Any]], task_scores: Sequence[dict[str, Any]]
) -> None:
    """Write scored samples and per-task scores in one transaction (all or nothing). A run's earlier
    scores are replaced: a resumed run may have written them before its process died."""
    run_ids = sorted({row["run_id"] for row in [*samples, *task_scores]})
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            for table in ("samples", "task_scores"):
                con.execute(f"delete from {table} where run_id in (select unnest(?::varchar[]))", [run_ids])
            insert_rows(con, "samples", samples)
            insert_rows(con, "task_scores", task_scores)
            con.execute("commit")
        except Exception:
            rollback(con)
            raise
