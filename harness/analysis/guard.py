"""Comparability guard: two runs are compared only when they asked the same questions the same way.

Kinds checked, per task: task set, doc set, task version, few-shot count, decoding settings, and
chat-template policy. Each mismatch is one readable line. Against an imported run (a team's logged
answers) the token cap is not compared: those answers were given under production settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from harness.errors import HarnessError
from harness.store.reads import fetch_dicts

# The latest complete run of each side per task (as lh_pairs picks them), with what shapes its prompts.
_SIDES = """
    with pick as (
        select t.*, (t.provider = $side or t.run_id = $side) as mine,
               try_cast(json_extract(p.profile_json, '$.generation.max_tokens') as integer) as max_tokens_cap,
               coalesce(r.source, 'live') as source
        from run_tasks t join providers p using (profile_hash) join runs r on r.run_id = t.run_id
        where $suite is null or t.suite = $suite)
    select task, metric, filter, run_id, task_version, num_fewshot, gen_kwargs, chat_template, max_tokens_cap, source
    from pick where mine
    qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1
"""

_DOCS = """
    with p as (select * from lh_pairs($baseline, $candidate, $suite)),
    bd as (select p.task, s.doc_id, s.doc_hash from samples s join p on s.run_id = p.baseline_run
           and s.task = p.task and s.metric = p.metric and s.filter = p.filter),
    cd as (select p.task, s.doc_id, s.doc_hash from samples s join p on s.run_id = p.candidate_run
           and s.task = p.task and s.metric = p.metric and s.filter = p.filter)
    select task, count(*) filter (where cd.doc_id is null) as baseline_only,
           count(*) filter (where bd.doc_id is null) as candidate_only,
           count(*) filter (where bd.doc_hash is distinct from cd.doc_hash
                            and bd.doc_id is not null and cd.doc_id is not null) as changed
    from bd full outer join cd using (task, doc_id) group by task
"""


@dataclass(frozen=True)
class Mismatch:
    kind: str
    task: str
    detail: str

    def line(self) -> str:
        return f"{self.kind} differs on {self.task} ({self.detail})"


def _sides(con: duckdb.DuckDBPyConnection, side: str, suite: str | None) -> dict[str, dict[str, Any]]:
    cursor = con.execute(_SIDES, {"side": side, "suite": suite})
    return {row["task"]: row for row in fetch_dicts(cursor)}


def _decoding(side: dict[str, Any]) -> dict[str, Any]:
    """What the model was asked to do: the task's generation settings, with max tokens as capped."""
    kwargs = json.loads(side["gen_kwargs"]) if side["gen_kwargs"] else {}
    cap = side["max_tokens_cap"]
    asked = kwargs.get("max_gen_toks")
    effective = min(int(asked), cap) if asked is not None and cap is not None else (asked or cap)
    return {**{k: v for k, v in kwargs.items() if k != "max_gen_toks"}, "max_tokens": effective}


def _compare_task(task: str, b: dict[str, Any], c: dict[str, Any]) -> list[Mismatch]:
    found = []
    decoding = [_decoding(b), _decoding(c)]
    if "imported" in (b["source"], c["source"]):
        # Logged answers were given under the incumbent's production settings, not a profile's cap.
        decoding = [{k: v for k, v in side.items() if k != "max_tokens"} for side in decoding]
    checks: tuple[tuple[str, Any, Any], ...] = (
        ("metric", (b["metric"], b["filter"]), (c["metric"], c["filter"])),
        ("task version", b["task_version"], c["task_version"]),
        ("few-shot count", b["num_fewshot"], c["num_fewshot"]),
        ("decoding settings", decoding[0], decoding[1]),
        ("chat-template policy", b["chat_template"], c["chat_template"]),
    )
    for kind, left, right in checks:
        if left != right:
            found.append(Mismatch(kind, task, f"baseline {_show(left)}, candidate {_show(right)}"))
    return found


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return str(value)


def check(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str, suite: str | None) -> list[Mismatch]:
    """Every way the two sides' runs differ; an empty list means the comparison is like for like."""
    b_side, c_side = _sides(con, baseline, suite), _sides(con, candidate, suite)
    where = f" in suite '{suite}'" if suite else ""
    if not b_side:
        raise HarnessError(f"no complete run for baseline '{baseline}'{where}; run `harness eval` first")
    if not c_side:
        raise HarnessError(f"no complete run for candidate '{candidate}'{where}; run `harness eval` first")
    found: list[Mismatch] = []
    for task in sorted(b_side.keys() ^ c_side.keys()):
        who = "baseline" if task in b_side else "candidate"
        found.append(Mismatch("task set", task, f"only the {who} ran it"))
    for task in sorted(b_side.keys() & c_side.keys()):
        found += _compare_task(task, b_side[task], c_side[task])
    for task, b_only, c_only, changed in con.execute(
        _DOCS, {"baseline": baseline, "candidate": candidate, "suite": suite}
    ).fetchall():
        if b_only or c_only or changed:
            found.append(Mismatch(
                "doc set", task, f"{b_only} docs only in baseline, {c_only} only in candidate, {changed} changed"
            ))
    return found
