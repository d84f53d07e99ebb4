"""`harness compare`: the `migration()` SQL macro's rows, guarded, with their statistics.

SQL pairs the docs and gives means, counts, cost and latency; the exact intervals, p-values, verdicts
and samples needed are computed from every doc's difference (harness.analysis.gaps) and returned for
the caller to store, so that the SQL macros show them too. Python also adds Wilson intervals for each
side's mean on 0/1 scores, a seeded bootstrap interval for retained quality (approximate, labelled
so), and optionally Holm-adjusted p-values across tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from harness.analysis import capacity, constraints, failures, features, gaps, guard, judged, stats, whatif
from harness.analysis.sizing import Sizing, resolve
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE, check_max_error_rate
from harness.errors import HarnessError, NotComparable
from harness.store import Store
from harness.store.error_budget import refuse_errored_sides
from harness.store.gap_tests import record_gap_tests
from harness.store.reads import fetch_dicts


@dataclass
class Comparison:
    baseline: str
    candidate: str
    suite: str | None
    margin: float
    rows: list[dict[str, Any]]
    mismatches: list[str] = field(default_factory=list)
    capability_gaps: list[dict[str, Any]] = field(default_factory=list)
    needed_features: list[str] = field(default_factory=list)
    baseline_provider: str = ""
    candidate_provider: str = ""
    # Per side ("baseline", "candidate"): "request" or "batch" (see latency_notes).
    latency_basis: dict[str, str] = field(default_factory=dict)
    # Per side: requests answered 'unsupported: <feature>', counted by feature (lock-in, scored 0).
    unsupported: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per task (and OVERALL): the candidate's losses by failure class.
    losses: dict[str, failures.TaskLosses] = field(default_factory=dict)
    # A judge's pairwise verdicts on the same runs, when judged (harness judge pairwise).
    judged: judged.Judged = field(default_factory=judged.Judged)
    # Monthly bills at the team's traffic (CompareOptions.sizing): API prices or self-hosted replicas.
    bills: list[capacity.Bill] = field(default_factory=list)
    # What the bills were sized at (given figures, or the imported traffic's), and a note on the traffic.
    targets: capacity.Targets | None = None
    sizing_note: str | None = None
    # Per side and engine: structured outputs checked against their requests (constraints that failed open).
    constraint_checks: list[constraints.ConstraintCheck] = field(default_factory=list)
    # The candidate with and without constrained decoding, when it has a run of each kind on the suite.
    what_if: whatif.WhatIf | None = None

    @property
    def label(self) -> str | None:
        """Set when the guard was overridden: every output carries it."""
        return "MISMATCHED: " + "; ".join(self.mismatches) if self.mismatches else None


@dataclass(frozen=True)
class CompareOptions:
    baseline: str
    candidate: str
    suite: str | None = None
    margin: float = 0.05
    allow_mismatch: bool = False
    holm: bool = False
    bootstrap_iterations: int = 2000
    seed: int = 1234
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    examples: int = 0  # examples of each failure class to fetch (the report shows them)
    judge: str | None = None  # whose pairwise verdicts to show (default: any judge's latest)
    # Volume and latency targets: with them, both monthly bills (a volume not given is the traffic's).
    sizing: Sizing | None = None
    serving: str | None = None  # the profile whose load tests size the candidate (a server of its model)


def compare(db: Path, options: CompareOptions) -> Comparison:
    """Refuse non-comparable runs (unless allowed), then return per-task and overall rows."""
    if not 0 <= options.margin < 1:
        raise HarnessError(f"--margin must be in [0, 1), got {options.margin}")
    check_max_error_rate(options.max_error_rate)
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        mismatches = guard.check(con, options.baseline, options.candidate, options.suite)
        if mismatches and not options.allow_mismatch:
            extra = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
            raise NotComparable(
                f"runs are not comparable: {mismatches[0].line()}{extra}; pass --allow-mismatch to compare anyway"
            )
        refuse_errored_sides(con, options.baseline, options.candidate, options.suite, options.max_error_rate)
        rows = _migration_rows(con, options)
        if not any(r["task"] != "OVERALL" for r in rows):
            raise HarnessError(f"'{options.baseline}' and '{options.candidate}' share no scored task")
        gaps.apply_tests(con, rows, options.margin, options.baseline)
        for row in rows:
            _add_extras(con, row, options)
        task_rows = [r for r in rows if r["task"] != "OVERALL"]
        sides = (features.side_provider(con, task_rows[0]["baseline_run"]),
                 features.side_provider(con, task_rows[0]["candidate_run"]))
        run_ids = sorted({r["baseline_run"] for r in task_rows} | {r["candidate_run"] for r in task_rows})
        capability = features.capability_gaps(con, sides[0], sides[1], run_ids)
        needed = features.needed_features(con, run_ids)
        basis = {side: _latency_basis(con, [r[f"{side}_run"] for r in task_rows]) for side in ("baseline", "candidate")}
        unsupported = {side: _unsupported(con, task_rows, side) for side in ("baseline", "candidate")}
        lost = failures.losses(con, options.baseline, options.candidate, options.suite, options.max_error_rate,
                               task_rows, options.examples)
        lost["OVERALL"] = failures.overall(lost)
        for row in rows:
            row["losses"] = lost[row["task"]].summary() if row["task"] in lost else None
        preference = judged.judged(con, options.baseline, options.candidate, options.suite, options.margin,
                                   options.judge)
        checked = constraints.checks(con, task_rows, {"baseline": sides[0], "candidate": sides[1]})
        decoding = whatif.what_if(con, task_rows, sides[1], options.margin)
        targets, sized = resolve(con, options.sizing, run_ids) if options.sizing else (None, None)
        bills = [] if targets is None else [
            capacity.bill_for(con, side, name, [r[f"{side}_run"] for r in task_rows],
                              options.serving if side == "candidate" else None, targets)
            for side, name in (("baseline", sides[0]), ("candidate", sides[1]))]
    if options.holm:
        task_rows = [r for r in rows if r["task"] != "OVERALL"]
        adjusted = stats.holm([r["p_value"] for r in task_rows])
        for row in rows:
            row["p_holm"] = adjusted[task_rows.index(row)] if row in task_rows else None
    comparison = Comparison(options.baseline, options.candidate, options.suite, options.margin, rows,
                            [m.line() for m in mismatches], capability, needed, *sides, latency_basis=basis,
                            unsupported=unsupported, losses=lost, judged=preference, bills=bills, targets=targets,
                            sizing_note=sized, constraint_checks=checked, what_if=decoding)
    by_task: dict[str, list[str]] = {}
    for m in mismatches:
        by_task.setdefault(m.task, []).append(m.kind)
    for row in rows:
        kinds = by_task.get(row["task"], []) if row["task"] != "OVERALL" else sorted({m.kind for m in mismatches})
        row["mismatch"] = ", ".join(kinds) or None if mismatches else None
    return comparison


def record(db: Path, comparison: Comparison) -> None:
    """Have the store keep this comparison's statistics, for the SQL macros to show (`gap_tests`). A
    comparison forced past the guard is not kept: SQL shows only what compares as it is."""
    if not comparison.mismatches:
        record_gap_tests(Store(db, wait_s=10.0), gaps.stored_rows("quality", comparison.rows, comparison.margin)
                         + judged.stored_rows(comparison.judged, comparison.margin))


def gate(comparison: Comparison, fail_on: str | None) -> list[str]:
    """The rows that fail a CI gate: 'infeasible' fails on an infeasible verdict (OVERALL or any task),
    'inconclusive' on anything short of feasible (inconclusive, too few documents, withheld, infeasible)."""
    if fail_on is None:
        return []
    rows = comparison.rows
    failing = [r for r in rows if r["verdict"] == "infeasible"] if fail_on == "infeasible" else [
        r for r in rows if r["verdict"] != "feasible"]
    return [f"{r['task']} is {r['verdict']}" for r in failing]


def _latency_basis(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> str:
    """'batch' if any of a side's runs came from a local batch engine, else 'request'."""
    found = con.execute("select bool_or(latency_basis = 'batch') from runs where run_id in (select unnest(?))",
                        [run_ids]).fetchone()
    return "batch" if found and found[0] else "request"


def _unsupported(con: duckdb.DuckDBPyConnection, task_rows: list[dict[str, Any]], side: str) -> dict[str, int]:
    found = con.execute(
        "select substr(error, length('unsupported: ') + 1) as feature, count(*) from generations"
        " join (select unnest(?) as run_id, unnest(?) as task) w using (run_id, task)"
        " where lh_unsupported(error) group by all order by all",
        [[r[f"{side}_run"] for r in task_rows], [r["task"] for r in task_rows]]).fetchall()
    return {str(feature): int(count) for feature, count in found}


def unsupported_notes(comparison: Comparison) -> list[str]:
    """One line per side that could not serve some requests, by feature."""
    names = {"baseline": comparison.baseline_provider, "candidate": comparison.candidate_provider}
    return [f"{names[side]} could not serve {sum(counts.values())} requests (scored 0): "
            + ", ".join(f"unsupported: {feature} ({n})" for feature, n in counts.items())
            for side, counts in comparison.unsupported.items() if counts]


def latency_notes(comparison: Comparison) -> list[str]:
    """One line per side whose latencies are not request latencies, for every output that shows them."""
    names = {"baseline": comparison.baseline_provider, "candidate": comparison.candidate_provider}
    return [f"{names[side]}: latency is each sample's time inside a local batch (throughput-bound), not the "
            "latency of a request; measure a server for that" for side in ("baseline", "candidate")
            if comparison.latency_basis.get(side) == "batch"]


def _migration_rows(con: duckdb.DuckDBPyConnection, options: CompareOptions) -> list[dict[str, Any]]:
    cursor = con.execute(
        "select * from migration($baseline, $candidate, margin := $margin, suite_name := $suite,"
        " max_error_rate := $max_error_rate)",
        {"baseline": options.baseline, "candidate": options.candidate, "margin": options.margin,
         "suite": options.suite, "max_error_rate": options.max_error_rate},
    )
    return fetch_dicts(cursor)


def _add_extras(con: duckdb.DuckDBPyConnection, row: dict[str, Any], options: CompareOptions) -> None:
    row.update(baseline_wilson=None, candidate_wilson=None, retained_boot_ci=None)
    if row["task"] == "OVERALL":
        return
    b_scores, c_scores = gaps.paired_scores(con, row)
    if all(s in (0, 1) for s in b_scores + c_scores):
        row["baseline_wilson"] = stats.wilson(round(sum(b_scores)), len(b_scores))
        row["candidate_wilson"] = stats.wilson(round(sum(c_scores)), len(c_scores))
    boot = stats.paired_bootstrap(b_scores, c_scores, options.bootstrap_iterations, options.seed)
    if boot is not None:
        row["retained_boot_ci"] = boot.retained_ci
