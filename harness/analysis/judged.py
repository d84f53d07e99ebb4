"""Judged preference between two sides (`judged_gap()`, migration 0011): win / tie / loss per task
with a paired interval and a non-inferiority verdict, the judge's position consistency, and how well
the judge agreed with a team's labels when last calibrated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from harness.store.reads import fetch_dicts


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
    if not rows:
        return Judged(rubric=rubric)
    found = fetch_dicts(con.execute(
        "select judge, mode, n, unreadable, agreement, kappa, labels_file, calibrated_at from judge_calibrations "
        "where judge = ? and mode = 'pairwise' order by calibrated_at desc limit 1", [rows[0]["judge"]]))
    return Judged(rows, found[0] if found else None, rubric)
