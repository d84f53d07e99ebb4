"""Ordered, named schema migrations, recorded in `schema_migrations`.

Append new ones at the end; never edit or reorder one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import duckdb

from harness.errors import HarnessError
from harness.store.migrations import m0003_analysis, m0005_capabilities_risk

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def _0001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        create table providers (
            profile_hash varchar primary key, name varchar not null, kind varchar not null,
            model varchar not null, revision varchar, openness_class varchar, licence varchar,
            profile_json json not null, first_seen timestamp default current_timestamp)""")
    con.execute("""
        create table runs (
            run_id varchar primary key, provider varchar not null, profile_hash varchar not null,
            suite varchar not null, suite_hash varchar, tasks varchar[], status varchar not null,
            error varchar, started_at timestamp not null, finished_at timestamp, wall_s double,
            n_requests integer, seed integer, batch_size integer, dtype varchar,
            chat_template boolean, chat_template_hash varchar, limit_docs integer,
            harness_version varchar, lm_eval_version varchar, transformers_version varchar,
            torch_version varchar, python_version varchar, git_sha varchar, provenance json)""")
    # Written as each generation completes, so a crash loses nothing already answered.
    con.execute("""
        create table generations (
            run_id varchar not null, task varchar not null, doc_id integer not null,
            request_key varchar not null, prompt varchar not null, response varchar not null,
            finish_reason varchar, input_tokens integer, output_tokens integer, latency_ms double,
            error varchar, fingerprint varchar, model_reported varchar, retries integer default 0,
            created_at timestamp default current_timestamp, primary key (run_id, task, doc_id))""")
    # One row per doc x filter x metric, written when lm-eval has scored the run.
    con.execute("""
        create table samples (
            run_id varchar not null, task varchar not null, doc_id integer not null,
            filter varchar not null, metric varchar not null, doc_hash varchar, prompt_hash varchar,
            target_hash varchar, prompt varchar not null, target varchar, response varchar not null,
            filtered varchar, score double, latency_ms double, input_tokens integer,
            output_tokens integer, cost_usd double, error varchar,
            primary key (run_id, task, doc_id, filter, metric))""")
    con.execute("""
        create table task_scores (
            run_id varchar not null, task varchar not null, metric varchar not null,
            filter varchar not null, value double, stderr double, n integer, weight double,
            task_version varchar, num_fewshot integer, config_hash varchar,
            primary key (run_id, task, metric, filter))""")


def _0002_run_agreement(con: duckdb.DuckDBPyConnection) -> None:
    # How often two runs (e.g. one model through transformers and through an API server) answer alike.
    con.execute("""
        create table run_agreement (
            run_a varchar not null, run_b varchar not null, task varchar not null, n integer not null,
            same_response integer not null, same_filtered integer not null, same_score integer not null,
            computed_at timestamp default current_timestamp, primary key (run_a, run_b, task))""")


def _0004_response_cache(con: duckdb.DuckDBPyConnection) -> None:
    # Answers keyed by who answered (profile hash + model revision) and what was asked (request key),
    # so a re-run or a resume never pays twice for the same generation. Errors are never stored here.
    con.execute("""
        create table response_cache (
            cache_key varchar primary key, provider varchar not null, profile_hash varchar not null,
            revision varchar, request_key varchar not null, response varchar not null,
            finish_reason varchar, input_tokens integer, output_tokens integer, latency_ms double,
            fingerprint varchar, model_reported varchar, run_id varchar,
            created_at timestamp default current_timestamp)""")
    # Which generations came from the cache rather than a provider call.
    con.execute("alter table generations add column cached boolean default false")
    # Per run: what the cache saved, and which process owns a 'running' row (to tell a crash from a live run).
    for column in ("cache_hits integer", "provider_calls integer", "resumes integer default 0",
                   "pid integer", "host varchar"):
        con.execute(f"alter table runs add column {column}")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial", _0001_initial),
    ("0002_run_agreement", _0002_run_agreement),
    ("0003_analysis", m0003_analysis.apply),
    ("0004_response_cache", _0004_response_cache),
    ("0005_capabilities_risk", m0005_capabilities_risk.apply),
]


def migrate(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool = False) -> None:
    """Apply missing migrations in order; refuse a database made by a newer harness."""
    known = [name for name, _ in MIGRATIONS]
    tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
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
    if not pending:
        return
    if read_only:
        raise HarnessError(f"{path} needs schema migrations; run any writing command (e.g. harness eval) first")
    if "schema_migrations" not in tables:
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
