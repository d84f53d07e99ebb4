"""Drift between two runs of the same profile on the same suite: did the vendor change the model under
the same name? Per task: the paired change of the primary score with its 95% interval and p-value
(quality_gap() with the earlier run as baseline), the share of identical answers, the docs whose score
flipped (both answers), and whether the model the API reported or its system fingerprint changed.

A task regresses when its change's interval lies wholly below -margin (margin 0: a significant drop
of any size); the interval and p-value are the exact ones `harness compare` uses (harness.analysis.
betting), so a handful of docs or answers that did not change cannot fake a regression. Each check is
stored (`drift_checks`), so the report can show a timeline per task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from harness.analysis import betting, gaps
from harness.errors import HarnessError
from harness.store import Store
from harness.store.drift import record_drift
from harness.store.reads import fetch_dicts

_RUNS = """
    select run_id, started_at, finished_at from runs
    where provider = $provider and suite = $suite and status = 'complete'
      and ($before is null or started_at < $before)
    order by started_at desc, run_id desc limit $n
"""

_SAME = """
    select a.task, count(*) as compared,
           count(*) filter (where a.response = b.response
                            and coalesce(a.tool_calls::varchar, '') = coalesce(b.tool_calls::varchar, '')) as identical
    from generations a join generations b using (task, doc_id)
    where a.run_id = ? and b.run_id = ? and lh_failure(a.error) is null and lh_failure(b.error) is null
    group by a.task
"""

_FLIPPED = """
    select a.task, a.doc_id, a.score as earlier_score, b.score as later_score, left(a.response, 300) as earlier,
           left(b.response, 300) as later
    from sample_classes a join sample_classes b using (task, doc_id)
    where a.run_id = ? and b.run_id = ? and a.score is distinct from b.score
      and a.failure_class <> 'error' and b.failure_class <> 'error'
    order by a.task, a.doc_id
"""

_WHO = """
    select run_id, list(distinct model_reported order by model_reported) filter (where model_reported is not null),
           list(distinct fingerprint order by fingerprint) filter (where fingerprint is not null),
           bool_and(cached) as all_cached
    from generations where run_id in (?, ?) group by run_id
"""


@dataclass
class Drift:
    provider: str
    suite: str
    earlier_run: str
    later_run: str
    margin: float
    rows: list[dict[str, Any]]  # per task: change, interval, p, identical share, flipped count, verdict
    flipped: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, list[str]] = field(default_factory=dict)  # run id -> models reported
    fingerprints: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> list[str]:
        return [r["task"] for r in self.rows if r["verdict"] == "regression"]


def _pick(con: duckdb.DuckDBPyConnection, provider: str, suite: str, since: date | None,
          run_ids: list[str] | None) -> tuple[str, str]:
    if run_ids:
        if len(run_ids) != 2:
            raise HarnessError("--runs takes two run ids: the earlier and the later")
        return run_ids[0], run_ids[1]
    latest = fetch_dicts(con.execute(_RUNS, {"provider": provider, "suite": suite, "before": None, "n": 2}))
    if not latest:
        raise HarnessError(f"no complete run of '{provider}' on suite '{suite}'; run `harness eval` first")
    later = latest[0]
    if since is not None:
        earlier = fetch_dicts(con.execute(_RUNS, {"provider": provider, "suite": suite, "before": since, "n": 1}))
    else:
        earlier = latest[1:]
    if not earlier or earlier[0]["run_id"] == later["run_id"]:
        when = f" before {since}" if since else " before it"
        raise HarnessError(f"'{provider}' on '{suite}' has no complete run{when} to compare the latest "
                           f"({later['run_id']}) with; run the suite again later")
    return earlier[0]["run_id"], later["run_id"]


def _rows(con: duckdb.DuckDBPyConnection, earlier: str, later: str, margin: float) -> list[dict[str, Any]]:
    changes = fetch_dicts(con.execute("select * from quality_gap(?, ?, max_error_rate := 1.0)", [earlier, later]))
    if not changes:
        raise HarnessError(f"runs {earlier} and {later} share no scored task")
    same = {r["task"]: r for r in fetch_dicts(con.execute(_SAME, [earlier, later]))}
    rows = []
    for gap in changes:
        shared = same.get(gap["task"], {"compared": 0, "identical": 0})
        earlier_scores, later_scores = gaps.paired_scores(con, gap)
        lo, hi, _ = gaps.difference_range(earlier_scores + later_scores)
        test = betting.paired_test([b - a for a, b in zip(earlier_scores, later_scores, strict=True)], margin, lo, hi,
                                   needed=False)
        low, high = test.ci_low, test.ci_high
        verdict = ("regression" if high is not None and high < -margin else
                   "improvement" if low is not None and low > margin else
                   "too few documents" if test.verdict == "too few documents" else "no significant change")
        rows.append({
            "task": gap["task"], "n": gap["n"], "earlier_mean": gap["baseline_mean"],
            "later_mean": gap["candidate_mean"],
            "change": gap["gap"], "ci_low": low, "ci_high": high, "p_value": test.p_value,
            "identical_share": shared["identical"] / shared["compared"] if shared["compared"] else None,
            "errored_pairs": gap["errored_pairs"], "verdict": verdict,
        })
    return rows


def drift(db: Path, provider: str, suite: str, margin: float = 0.0, since: date | None = None,
          run_ids: list[str] | None = None) -> Drift:
    """Compare two runs of `provider` on `suite` and store the check."""
    if margin < 0:
        raise HarnessError(f"--margin must be >= 0, got {margin}")
    store = Store(db, wait_s=10.0)
    with store.connect(read_only=True) as con:
        earlier, later = _pick(con, provider, suite, since, run_ids)
        rows = _rows(con, earlier, later, margin)
        flipped = fetch_dicts(con.execute(_FLIPPED, [earlier, later]))
        who = {r[0]: r for r in con.execute(_WHO, [earlier, later]).fetchall()}
    result = Drift(provider, suite, earlier, later, margin, rows, flipped,
                   {run: list(who[run][1] or []) for run in who}, {run: list(who[run][2] or []) for run in who})
    for row in rows:
        row["flipped"] = sum(1 for f in flipped if f["task"] == row["task"])
    if who.get(later) and who[later][3]:
        result.notes.append(f"every answer of {later} came from the response cache, so no change could show; "
                            "run drift checks with `harness eval --no-cache`")
    changed_model = result.models.get(earlier) != result.models.get(later)
    changed_fingerprint = result.fingerprints.get(earlier) != result.fingerprints.get(later)
    checked = datetime.now(UTC).replace(tzinfo=None)
    record_drift(store, [{
        **{k: row[k] for k in ("task", "n", "earlier_mean", "later_mean", "change", "ci_low", "ci_high", "p_value",
                               "identical_share", "flipped", "verdict")},
        "provider": provider, "suite": suite, "earlier_run": earlier, "later_run": later, "margin": margin,
        "model_changed": changed_model, "fingerprint_changed": changed_fingerprint,
        "earlier_identity": json.dumps({"models": result.models.get(earlier), "fingerprints":
                                        result.fingerprints.get(earlier)}),
        "later_identity": json.dumps({"models": result.models.get(later), "fingerprints":
                                      result.fingerprints.get(later)}),
        "checked_at": checked,
    } for row in rows])
    return result


def timeline(con: duckdb.DuckDBPyConnection, providers: list[str], suite: str | None) -> list[dict[str, Any]]:
    """Stored drift checks of these providers, oldest first: the report's timeline per task."""
    return fetch_dicts(con.execute(
        "select provider, suite, task, later_run, checked_at, change, ci_low, ci_high, identical_share, flipped,"
        " verdict, model_changed, fingerprint_changed from drift_checks"
        " where provider in (select unnest(?::varchar[])) and (? is null or suite = ?)"
        " order by provider, task, checked_at", [providers, suite, suite]))
