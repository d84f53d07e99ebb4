"""What constrained decoding is worth to a candidate: when its provider has a run whose structured
outputs were held by a constraint ('api' or 'constrained:<engine>', the `run_decoding` view) and one
whose were not ('unconstrained') on the same suite, the gap to the baseline with and without it, and
how much of the unconstrained run's loss the constraint wins back.

Shown automatically when both runs exist: nothing to remember, and a run of each kind is the
experiment itself (`harness eval` with and without the profile's constrained decoding). The paired
intervals are the comparison's own tests (harness.analysis.betting) on the docs all three runs
answered; "share fixed" is (gap constrained - gap unconstrained) / loss unconstrained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from harness.analysis import betting, gaps

_RUNS = """
    select run_id, json_decoding, lh_constraint_requested(json_decoding) as requested
    from run_decoding where provider = ? and suite = ? and json_decoding <> 'mixed'
    order by started_at desc
"""

_TRIPLES = """
    select b.score, u.score, c.score
    from samples b join samples u using (task, doc_id, metric, filter)
        join samples c using (task, doc_id, metric, filter)
    where b.run_id = ? and u.run_id = ? and c.run_id = ? and b.task = ? and b.metric = ? and b.filter = ?
      and b.score is not null and u.score is not null and c.score is not null
      and lh_failure(b.error) is null and lh_failure(u.error) is null and lh_failure(c.error) is null
    order by doc_id
"""


@dataclass
class WhatIf:
    provider: str
    constrained_run: str
    constrained: str  # its json_decoding ('api' or 'constrained:<engine>')
    unconstrained_run: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # per task and OVERALL


def _pair(con: duckdb.DuckDBPyConnection, provider: str, suite: str) -> tuple[tuple[str, str], str] | None:
    """((constrained run, its decoding), unconstrained run): the latest complete run of each kind."""
    found = con.execute(_RUNS, [provider, suite]).fetchall()
    held = next(((run, decoding) for run, decoding, requested in found if requested), None)
    free = next((run for run, decoding, _ in found if decoding == "unconstrained"), None)
    return (held, free) if held and free else None


def _row(task: str, parts: dict[str, betting.GapTest], n: int) -> dict[str, Any]:
    u, c, fixed = parts["unconstrained"], parts["constrained"], parts["fixed"]
    loss = -(u.gap or 0.0)
    return {"task": task, "n": n, "gap_unconstrained": u.gap, "ci_unconstrained": (u.ci_low, u.ci_high),
            "gap_constrained": c.gap, "ci_constrained": (c.ci_low, c.ci_high), "fixed": fixed.gap,
            "ci_fixed": (fixed.ci_low, fixed.ci_high),
            "share_fixed": (fixed.gap or 0.0) / loss if loss > 0 else None}


def what_if(con: duckdb.DuckDBPyConnection, task_rows: list[dict[str, Any]], provider: str,
            margin: float) -> WhatIf | None:
    """The with/without constrained decoding gaps of `provider` against the comparison's baseline runs."""
    suites = {r["suite"] for r in task_rows}
    pair = _pair(con, provider, suites.pop()) if len(suites) == 1 else None
    if pair is None:
        return None
    (held, decoding), free = pair
    result = WhatIf(provider, held, decoding, free)
    overall: dict[str, list[tuple[list[float], float]]] = {"unconstrained": [], "constrained": [], "fixed": []}
    for row in task_rows:
        triples = con.execute(_TRIPLES, [row["baseline_run"], free, held, row["task"], row["metric"],
                                         row["filter"]]).fetchall()
        if not triples:
            continue
        lo, hi, _ = gaps.difference_range([s for t in triples for s in t])
        diffs = {"unconstrained": [u - b for b, u, _ in triples], "constrained": [c - b for b, _, c in triples],
                 "fixed": [c - u for _, u, c in triples]}
        tests = {k: betting.paired_test(d, margin, lo, hi, needed=False) for k, d in diffs.items()}
        result.rows.append(_row(row["task"], tests, len(triples)))
        for k, d in diffs.items():
            overall[k].append((d, float(row["weight"])))
    if not result.rows:
        return None
    tests = {k: betting.overall_test(parts, margin, needed=False) for k, parts in overall.items()}
    result.rows.append(_row("OVERALL", tests, sum(r["n"] for r in result.rows)))
    return result
