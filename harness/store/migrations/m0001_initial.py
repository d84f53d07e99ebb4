"""Migration 0001_initial: the first schema: profiles, runs, generations as they complete, scored samples, task scores.

Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
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
