"""The statistics of a comparison's rows: exact intervals, p-values and verdicts (harness.analysis.betting)
for each task's paired scores and for the weighted OVERALL.

SQL (`quality_gap()`, `migration()`) pairs the docs and gives means, counts and each row's key; the
tests need every doc's difference, so they run here. `harness compare` stores what it computed
(`gap_tests`, under the row's key) and the SQL macros return those stored results; a row never
computed says so in its verdict (NOT_COMPUTED).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import duckdb

from harness.analysis import betting
from harness.traffic.score import AGAINST_LOG

# The verdict SQL shows for a row whose statistics `harness compare` has not stored yet.
NOT_COMPUTED = "not computed: run harness compare"
# A verdict withheld because the baseline is the incumbent's log scored against itself.
NO_REPLAY = "no verdict: incumbent not replayed"
UNDECIDED = ("inconclusive", "too few documents", NO_REPLAY)

_PAIRED_SCORES = """
    select b.score, c.score from samples b join samples c using (task, doc_id, metric, filter)
    where b.run_id = ? and c.run_id = ? and b.task = ? and b.metric = ? and b.filter = ?
      and b.score is not null and c.score is not null and lh_failure(b.error) is null
      and lh_failure(c.error) is null
    order by doc_id
"""

# What a verdict row carries from a GapTest (names as the SQL macros return them).
TEST_COLUMNS = ("ci_low", "ci_high", "p_value", "p_noninferior", "p_inferior", "verdict", "min_n",
                "samples_needed", "method")


def paired_scores(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The doc-paired primary scores behind one task row of `migration()`."""
    pairs = con.execute(_PAIRED_SCORES, [row["baseline_run"], row["candidate_run"], row["task"], row["metric"],
                                         row["filter"]]).fetchall()
    return [p[0] for p in pairs], [p[1] for p in pairs]


def difference_range(scores: Sequence[float]) -> tuple[float, float, bool]:
    """(lo, hi, known) for differences of these scores: [-1, 1] for scores in [0, 1] (every built-in
    metric), else the observed span, flagged as read from the data."""
    if not scores or (min(scores) >= 0.0 and max(scores) <= 1.0):
        return -1.0, 1.0, True
    span = max(scores) - min(scores)
    return -span, span, False


def apply_tests(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], margin: float,
                baseline: str) -> None:
    """Fill every row's interval, p-values and verdict from its docs (in place)."""
    task_rows = [r for r in rows if r["task"] != "OVERALL" and r["n"]]
    parts: list[tuple[list[float], float]] = []
    everything: list[float] = []
    for row in task_rows:
        b, c = paired_scores(con, row)
        lo, hi, known = difference_range(b + c)
        diffs = [ci - bi for bi, ci in zip(b, c, strict=True)]
        _fill(row, betting.paired_test(diffs, margin, lo, hi), known)
        _withhold_without_replay(row, baseline)
        parts.append((diffs, float(row["weight"])))
        everything += b + c
    for row in rows:
        if row["task"] == "OVERALL":
            lo, hi, known = difference_range(everything)
            _fill(row, betting.overall_test(parts, margin, lo, hi), known)
            unreplayed = [r["task"] for r in task_rows if r.get("baseline_source") == "imported"
                          and r["metric"] in AGAINST_LOG]
            if unreplayed and row["verdict"] == "infeasible":
                row["verdict"] = NO_REPLAY
                row["note"] = f"the baseline of {', '.join(unreplayed)} is the incumbent's own log, not a replay"
        elif not row["n"]:
            _fill(row, betting.paired_test([], margin), True)


def _fill(row: dict[str, Any], test: betting.GapTest, known_range: bool) -> None:
    values = asdict(test)
    row.update({k: values[k] for k in TEST_COLUMNS})
    if not known_range:
        row["method"] += " (range from data)"
    row.setdefault("note", None)


def _withhold_without_replay(row: dict[str, Any], baseline: str) -> None:
    """On imported traffic, scores that measure agreement with the incumbent's logged answers give
    the log a perfect score against itself. With a replay of the incumbent as the baseline (a live run;
    `lh_pairs` prefers it), both sides are measured the same way: the note says so and shows the
    incumbent's self-agreement. Without one, the gap includes the incumbent's own run-to-run variation,
    so it cannot show the candidate to be worse: no 'infeasible'."""
    if row["metric"] not in AGAINST_LOG:
        return
    provider = row.get("baseline_provider") or baseline
    if row.get("baseline_source") == "imported":
        row["note"] = (f"the baseline is {provider}'s logged answers scored against themselves, so the gap "
                       f"includes {provider}'s own run-to-run variation and cannot show 'infeasible'; measure "
                       f"it by replaying the incumbent: harness eval -p {provider} -s {row['suite']}")
        if row["verdict"] == "infeasible":
            row["verdict"] = NO_REPLAY
    elif row.get("baseline_has_log") and row["baseline_mean"] is not None:
        row["note"] = (f"the baseline is {provider}'s replay ({row['baseline_run']}): {provider} agrees with its "
                       f"own logs at {row['baseline_mean']:.3f} ({row['metric']}), the candidate at "
                       f"{row['candidate_mean']:.3f}")


def verdict_text(row: dict[str, Any]) -> str:
    """A verdict as tables show it: 'too few documents' says how many docs could decide."""
    if row["verdict"] == "too few documents" and row.get("min_n"):
        return f"too few docs (need {row['min_n']}" + ("/task)" if row["task"] == "OVERALL" else ")")
    return str(row["verdict"])


def p_verdict(row: dict[str, Any]) -> float | None:
    """The one-sided p of the verdict's own test: the smaller of 'not worse by more than the margin'
    and 'worse by more than it'. A verdict is given exactly when this is at most alpha/2."""
    found = [p for p in (row.get("p_noninferior"), row.get("p_inferior")) if p is not None]
    return min(found) if found else None


def row_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Why a row has no verdict, or what its baseline is, one line each."""
    notes = [f"{r['task']}: {r['note']}" for r in rows if r.get("note")]
    return notes + [f"{r['task']}: too few documents for any verdict at 95% with {r['n']}; at least {r['min_n']} "
                    "needed" + (" in each task" if r["task"] == "OVERALL" else "")
                    for r in rows if r["verdict"] == "too few documents" and r.get("min_n")]


def stored_rows(kind: str, rows: Sequence[dict[str, Any]], margin: float) -> list[dict[str, Any]]:
    """What the store keeps of each computed row (`gap_tests`), under the key the SQL macro gave it."""
    return [{"kind": kind, "pair_key": row["pair_key"], "task": row["task"], "at_margin": margin, "n": row["n"],
             "gap": row["gap"], "note": row.get("note"), **{k: row[k] for k in TEST_COLUMNS}} for row in rows]
