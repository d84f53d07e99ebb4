"""Every paired document of a comparison, with all a reader needs to judge it: what the sample browser
shows. Returns data only; harness.report.browser renders it.

Outcomes and failure classes come from SQL (`pair_outcomes`, `sample_classes`), so the page's counts
are the database's. Per side: the answer's text and tool calls, every metric's score, the failure
class, finish reason, tokens, latency, error, what held a structured answer and whether it kept to it,
and what the harness sent otherwise than the log. Pairwise judge verdicts come in both orders, with
the judge's replies.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from harness.errors import HarnessError
from harness.store import Store
from harness.store.reads import fetch_dicts

_PAIRS = """
    select o.*, gc.prompt, gc.request_fields, sc.target, gb.request_fields as baseline_request_fields
    from pair_outcomes($b, $c, suite_name := $s) o
    left join generations gc on gc.run_id = o.candidate_run and gc.task = o.task and gc.doc_id = o.doc_id
    left join generations gb on gb.run_id = o.baseline_run and gb.task = o.task and gb.doc_id = o.doc_id
    left join sample_classes sc on sc.run_id = o.baseline_run and sc.task = o.task and sc.doc_id = o.doc_id
    order by o.task, o.doc_id
"""
_SIDE = """
    select g.task, g.doc_id, g.response, g.tool_calls, g.finish_reason, g.input_tokens, g.output_tokens,
           g.latency_ms, g.error, g.json_decoding, g.constraint_asked, g.constraint_violation, g.request_notes,
           g.cap_origin, r.provider, coalesce(r.source, 'live') as source
    from generations g join runs r using (run_id) where g.run_id = ? and g.task in (select unnest(?))
"""
_SCORES = """
    select task, doc_id, metric, filter, score from samples
    where run_id = ? and task in (select unnest(?)) order by metric, filter
"""
_JUDGED = """
    select task, doc_id, judge, verdict_1, verdict_2, outcome, consistent, reply_1, reply_2, error
    from judgements where mode = 'pairwise' and baseline_run = ? and candidate_run = ?
    qualify row_number() over (partition by task, doc_id, judge order by judged_at desc) = 1
"""

OUTCOMES = ("lost", "won", "tied", "both wrong", "errored")


@dataclass
class Pair:
    """One document answered by both sides: the outcome, the request, and each side's answer."""

    candidate: str
    task: str
    doc_id: int
    outcome: str
    baseline_class: str | None
    candidate_class: str | None
    unsupported: str | None
    messages: list[dict[str, Any]]  # the request as sent to the candidate
    request_fields: dict[str, Any]  # tools, tool_choice, response_format, ... (as sent)
    target: str | None
    baseline: dict[str, Any]
    answer: dict[str, Any]  # the candidate's side
    judged: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Browse:
    baseline: str
    suite: str | None
    candidates: list[str]
    pairs: list[Pair]


def _messages(prompt: str | None) -> list[dict[str, Any]]:
    """The stored request: chat messages (JSON), or a raw prompt as one user turn."""
    if not prompt:
        return []
    try:
        value = json.loads(prompt)
    except ValueError:
        value = None
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    return [{"role": "prompt", "content": prompt}]


def _sides(con: duckdb.DuckDBPyConnection, run_id: str, tasks: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    sides = {(r["task"], r["doc_id"]): r for r in fetch_dicts(con.execute(_SIDE, [run_id, tasks]))}
    for row in fetch_dicts(con.execute(_SCORES, [run_id, tasks])):
        side = sides.setdefault((row["task"], row["doc_id"]), {})
        name = row["metric"] if row["filter"] in ("none", None) else f"{row['metric']} ({row['filter']})"
        side.setdefault("scores", []).append((name, row["score"]))
    return sides


def _judged(con: duckdb.DuckDBPyConnection, baseline_run: str, candidate_run: str) -> dict[tuple[str, int], list]:
    found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in fetch_dicts(con.execute(_JUDGED, [baseline_run, candidate_run])):
        found[(row["task"], row["doc_id"])].append(row)
    return found


def _candidate_pairs(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str,
                     suite: str | None) -> list[Pair]:
    rows = fetch_dicts(con.execute(_PAIRS, {"b": baseline, "c": candidate, "s": suite}))
    runs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        tasks = runs[(row["baseline_run"], row["candidate_run"])]
        if row["task"] not in tasks:
            tasks.append(row["task"])
    sides_b: dict[tuple[str, int], dict[str, Any]] = {}
    sides_c: dict[tuple[str, int], dict[str, Any]] = {}
    judged: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for (baseline_run, candidate_run), tasks in runs.items():
        sides_b.update(_sides(con, baseline_run, tasks))
        sides_c.update(_sides(con, candidate_run, tasks))
        judged.update(_judged(con, baseline_run, candidate_run))
    pairs = []
    for row in rows:
        key = (row["task"], row["doc_id"])
        fields = row["request_fields"] or row["baseline_request_fields"]
        pairs.append(Pair(
            candidate=candidate, task=row["task"], doc_id=row["doc_id"], outcome=row["outcome"],
            baseline_class=row["baseline_class"], candidate_class=row["candidate_class"],
            unsupported=row["unsupported"], messages=_messages(row["prompt"]),
            request_fields=json.loads(fields) if fields else {}, target=row["target"],
            baseline=sides_b.get(key, {}), answer=sides_c.get(key, {}), judged=judged.get(key, [])))
    return pairs


def browse(db: Path, baseline: str, candidates: list[str], suite: str | None = None) -> Browse:
    """Every paired doc of `baseline` against each candidate (latest complete runs, as compare pairs
    them), in task and doc order; raises HarnessError when a candidate shares no task with it."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        pairs = []
        for candidate in candidates:
            found = _candidate_pairs(con, baseline, candidate, suite)
            if not found:
                where = f" in suite '{suite}'" if suite else ""
                raise HarnessError(f"no paired documents for '{baseline}' and '{candidate}'{where}: run both "
                                   "on the same suite first (harness runs lists what is stored)")
            pairs.extend(found)
    return Browse(baseline=baseline, suite=suite, candidates=list(candidates), pairs=pairs)
