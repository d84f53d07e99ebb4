"""Judged preference between two sides (`judged_gap()`): win / tie / loss per task with an exact
interval and a non-inferiority verdict (the same betting test as `harness compare`, on the +1/0/-1
outcomes), the judge's position consistency, and how well the judge agreed with a team's labels when
last calibrated; and both sides' rubric grades (`rubric_gap()`), paired by doc, tested the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from harness.analysis import betting, gaps
from harness.store.reads import fetch_dicts

# Verdict names of judged comparisons, by the betting test's verdict.
_NAMES = {"feasible": "not worse", "infeasible": "worse"}


@dataclass
class Judged:
    rows: list[dict[str, Any]] = field(default_factory=list)  # judged_gap(): per task, then OVERALL
    calibration: dict[str, Any] | None = None  # the judge's latest calibration, if any
    rubric: list[dict[str, Any]] = field(default_factory=list)  # rubric_gap(): both sides graded

    @property
    def judge(self) -> str | None:
        return str(self.rows[0]["judge"]) if self.rows else None


def judged(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str, suite: str | None,
           margin: float, judge: str | None = None) -> Judged:
    values = {"b": baseline, "c": candidate, "j": judge, "s": suite, "m": margin}
    rows = fetch_dicts(con.execute(
        "select * from judged_gap($b, $c, judge_name := $j, suite_name := $s, margin := $m)", values))
    rubric = fetch_dicts(con.execute(
        "select * from rubric_gap($b, $c, judge_name := $j, suite_name := $s, margin := $m)", values))
    _test_rubric(con, rubric, values)
    if not rows:
        return Judged(rubric=rubric)
    _test_pairwise(con, rows, values)
    found = fetch_dicts(con.execute(
        "select judge, mode, n, unreadable, agreement, kappa, labels_file, calibrated_at from judge_calibrations "
        "where judge = ? and mode = 'pairwise' order by calibrated_at desc limit 1", [rows[0]["judge"]]))
    return Judged(rows, found[0] if found else None, rubric)


def _test_pairwise(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], values: dict[str, Any]) -> None:
    """Exact intervals and verdicts for the judged rows (in place), per task and the weighted OVERALL."""
    docs = con.execute("select task, score, weight from judged_docs($b, $c, judge_name := $j, suite_name := $s)"
                       " order by task, doc_id", {k: values[k] for k in ("b", "c", "j", "s")}).fetchall()
    by_task: dict[str, tuple[list[float], float]] = {}
    for task, score, weight in docs:
        by_task.setdefault(task, ([], float(weight)))[0].append(float(score))
    for row in rows:
        if row["task"] == "OVERALL":
            test = betting.overall_test(list(by_task.values()), values["m"])
        else:
            test = betting.paired_test(by_task.get(row["task"], ([], 1.0))[0], values["m"])
        _fill(row, test)


def _test_rubric(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], values: dict[str, Any]) -> None:
    pairs = con.execute("select task, b_score, c_score from rubric_pairs($b, $c, judge_name := $j, suite_name := $s)"
                        " order by task, doc_id", {k: values[k] for k in ("b", "c", "j", "s")}).fetchall()
    for row in rows:
        found = [(b, c) for task, b, c in pairs if task == row["task"]]
        lo, hi, _ = gaps.difference_range([v for pair in found for v in pair])
        _fill(row, betting.paired_test([c - b for b, c in found], values["m"], lo, hi))


def _fill(row: dict[str, Any], test: betting.GapTest) -> None:
    keep = row.get("verdict") == "judge inconsistent"
    row.update({k: getattr(test, k) for k in gaps.TEST_COLUMNS})
    row["verdict"] = "judge inconsistent" if keep else _NAMES.get(test.verdict, test.verdict)


def stored_rows(found: Judged, margin: float) -> list[dict[str, Any]]:
    """What the store keeps of judged and rubric rows (`gap_tests`, kinds 'judged' and 'rubric')."""
    return gaps.stored_rows("judged", found.rows, margin) + gaps.stored_rows("rubric", found.rubric, margin)
