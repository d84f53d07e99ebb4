"""Synthetic runs written straight into a store: many tasks of paired scores, no model and no lm-eval.

Used by the SQL scale benchmark (bench/sql_scale.py) and by tests that need a populated store. Each
"task" is one simulated comparison (or one shard of a big one); rows look like what `harness eval` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from harness.store.migrations import migrate

OPENNESS = {"class": "open-source", "licence": "Apache-2.0", "weights": True, "code": True, "data": True}


def open_store(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A migrated connection: a file when `path` is given, else in memory."""
    con = duckdb.connect(str(path) if path else ":memory:")
    migrate(con, path or Path(":memory:"))
    return con


def add_run(con: duckdb.DuckDBPyConnection, provider: str, run_id: str, tasks: list[str], docs: int,
            finished: str = "2026-01-01 00:00:00") -> None:
    """Provider, run and primary task_scores rows for `tasks`, each with `docs` docs."""
    profile = {"name": provider, "kind": "fake", "generation": {"max_tokens": 64}, "openness": OPENNESS}
    con.execute("insert into providers (profile_hash, name, kind, model, profile_json) values (?, ?, 'fake', ?, ?)"
                " on conflict do nothing", [f"hash-{provider}", provider, provider, json.dumps(profile)])
    con.execute(
        "insert into runs (run_id, provider, profile_hash, suite, status, started_at, finished_at, wall_s,"
        " n_requests, chat_template) values (?, ?, ?, 'sim', 'complete', ?, ?, 1.0, ?, true)",
        [run_id, provider, f"hash-{provider}", finished, finished, docs * len(tasks)],
    )
    scores = pa.table({
        "run_id": [run_id] * len(tasks), "task": tasks, "metric": ["score"] * len(tasks),
        "filter": ["none"] * len(tasks), "n": [docs] * len(tasks), "weight": [1.0] * len(tasks),
        "task_version": ["1"] * len(tasks), "num_fewshot": [0] * len(tasks), "is_primary": [True] * len(tasks),
        "gen_kwargs": ["{}"] * len(tasks),
    })
    con.register("_scores", scores)
    con.execute("insert into task_scores by name select * from _scores")
    con.unregister("_scores")


def add_samples(con: duckdb.DuckDBPyConnection, run_id: str, tasks: list[str], scores: np.ndarray) -> None:
    """`scores[i, j]` is doc j of tasks[i]."""
    count, docs = scores.shape
    table = pa.table({
        "run_id": pa.array([run_id] * (count * docs)),
        "task": pa.array(np.repeat(np.array(tasks, dtype=object), docs)),
        "doc_id": pa.array(np.tile(np.arange(docs, dtype=np.int32), count)),
        "score": pa.array(scores.reshape(-1).astype(float)),
    })
    con.register("_samples", table)
    con.execute("insert into samples (run_id, task, doc_id, filter, metric, doc_hash, prompt, response, score)"
                " select run_id, task, doc_id, 'none', 'score', doc_id::varchar, '', '', score from _samples")
    con.unregister("_samples")


def add_comparison(con: duckdb.DuckDBPyConnection, baseline: np.ndarray, candidate: np.ndarray) -> list[str]:
    """Store each row of the two score matrices as one task of providers 'B' and 'C'; return the tasks."""
    tasks = [f"sim_{i:05d}" for i in range(baseline.shape[0])]
    for provider, scores in (("B", baseline), ("C", candidate)):
        add_run(con, provider, f"run-{provider}", tasks, baseline.shape[1])
        add_samples(con, f"run-{provider}", tasks, scores)
    return tasks
