"""Run rows for resuming: find a run, the runs a new one could resume instead, and what each stored."""

from __future__ import annotations

from typing import Any

from harness.store.db import Store
from harness.store.reads import fetch_dicts

# Statuses a run can be resumed from ('running' only once its process is gone: a crash).
UNFINISHED = ("running", "failed", "interrupted")

_RUN_COLUMNS = (
    "run_id, provider, profile_hash, suite, suite_hash, tasks, status, limit_docs, pid, host, provenance, started_at"
)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run row (the columns resuming needs) plus its stored profile JSON, or None."""
    with store.connect() as con:
        rows = fetch_dicts(con.execute(
            f"select {_RUN_COLUMNS}, p.profile_json from runs r left join providers p using (profile_hash)"
            " where run_id = ?", [run_id]))
    return rows[0] if rows else None


def unfinished_runs(store: Store, provider: str, suite: str) -> list[dict[str, Any]]:
    """Unfinished runs of this provider name and suite, newest first, whatever their profile overrides,
    limit or suite version (the caller picks among them), with `stored`: how many error-free
    generations each holds (what a resume would reuse)."""
    with store.connect() as con:
        return fetch_dicts(con.execute(
            f"select {_RUN_COLUMNS}, (select count(*) from generations g"
            "   where g.run_id = r.run_id and g.error is null) as stored"
            " from runs r where provider = ? and suite = ? and status in (select unnest(?::varchar[]))"
            " order by started_at desc",
            [provider, suite, list(UNFINISHED)]))


def stored_generations(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's error-free generations: what a resume replays instead of asking the provider again."""
    with store.connect() as con:
        return fetch_dicts(con.execute(
            "select task, doc_id, request_key, response, finish_reason, input_tokens, output_tokens,"
            " latency_ms, fingerprint, model_reported, retries, tool_calls, json_decoding from generations"
            " where run_id = ? and error is null", [run_id]))


def claim_run(store: Store, run_id: str, seen_status: str, seen_pid: int | None, pid: int, host: str) -> bool:
    """Set the run back to 'running' under this process, unless another process changed it since we
    looked (both happen under the file's write lock, so two resumes cannot both win)."""
    with store.connect() as con:
        con.execute("begin transaction")
        row = con.execute("select status, pid from runs where run_id = ?", [run_id]).fetchone()
        if row != (seen_status, seen_pid):
            con.execute("rollback")
            return False
        con.execute(
            "update runs set status = 'running', error = null, finished_at = null, pid = ?, host = ?,"
            " resumes = coalesce(resumes, 0) + 1 where run_id = ?", [pid, host, run_id])
        con.execute("commit")
        return True
