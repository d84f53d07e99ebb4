"""Drift between two runs of the same profile on the same suite: did the vendor change the model under
the same name? Per task: the paired change of the primary score with its 95% interval and p-value
(quality_gap() with the earlier run as baseline), the share of identical answers, the docs whose score
flipped (both answers), and whether the model the API reported or its system fingerprint changed.

A task regresses when its change's interval lies wholly below -margin (margin 0: a significant drop
of any size); the interval and p-value are the exact ones `harness compare` uses (harness.analysis.
betting), so a handful of docs or answers that did not change cannot fake a regression. Each check is
stored (`drift_checks`), so the report can show a timeline per task.

A change is drift only if the same questions were asked the same way of the same profile, so before any
number is computed the two runs must be of this profile and suite and ask for the same model, pass the
comparability guard `harness compare` uses (harness.analysis.guard: tasks, docs and their content, task
version, few-shot, decoding, chat template, metric), and both stay within the error budget (a run that
mostly failed says nothing about the model). Otherwise one line refuses and nothing is stored. A task
whose docs all errored on a side has no pairs: its verdict is `no pairs`, never `no significant change`;
it is shown but not stored, and `--fail-on regression` fails on it (it cannot say the task held).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from harness.analysis import betting, gaps, guard
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE, check_max_error_rate
from harness.errors import HarnessError, NotComparable
from harness.store import Store
from harness.store.drift import record_drift
from harness.store.error_budget import refuse_errored_sides
from harness.store.reads import fetch_dicts

_RUNS = """
    select run_id, started_at, finished_at from runs
    where provider = $provider and suite = $suite and status = 'complete'
      and ($before is null or started_at < $before)
    order by started_at desc, run_id desc limit $n
"""

# What each run is: whose, on which suite, and the model and kind its profile asked for.
_IDENTITY = """
    select r.run_id, r.provider, r.suite, r.status, p.kind, p.model from runs r join providers p using (profile_hash)
    where r.run_id in (?, ?)
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

    @property
    def unpaired(self) -> list[str]:
        """Tasks with no answered pair: nothing was measured, so nothing can be said to have held."""
        return [r["task"] for r in self.rows if r["verdict"] == NO_PAIRS]


NO_PAIRS = "no pairs"


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


def _same_profile(con: duckdb.DuckDBPyConnection, provider: str, suite: str, earlier: str, later: str) -> None:
    """Refuse two runs that are not of this profile and suite, or whose profile asked for another model
    (an edit, not drift): `harness compare` is the command for two providers."""
    found = {row["run_id"]: row for row in fetch_dicts(con.execute(_IDENTITY, [earlier, later]))}
    for run in (earlier, later):
        if run not in found:
            raise HarnessError(f"no run '{run}'; list them with `harness runs`")
        if found[run]["provider"] != provider:
            raise NotComparable(f"run {run} is of '{found[run]['provider']}', not '{provider}': drift compares two "
                                "runs of one profile; compare two providers with `harness compare`")
        if found[run]["suite"] != suite:
            raise NotComparable(f"run {run} ran suite '{found[run]['suite']}', not '{suite}'")
        if found[run]["status"] != "complete":
            raise HarnessError(f"run {run} is {found[run]['status']}, not complete; resume it with "
                               f"`harness eval --resume {run}`")
    before, after = found[earlier], found[later]
    if (before["kind"], before["model"]) != (after["kind"], after["model"]):
        raise NotComparable(f"'{provider}' asked for {before['kind']} model '{before['model']}' in {earlier} and "
                            f"{after['kind']} model '{after['model']}' in {later}: the profile was edited, which is "
                            "not drift; compare the runs with `harness compare`")


def _comparable(con: duckdb.DuckDBPyConnection, suite: str, earlier: str, later: str) -> None:
    """The comparability guard of `harness compare`, with no override: a drift across a changed task,
    doc set, decoding or template would report the change of the questions as a change of the model."""
    mismatches = guard.check(con, earlier, later, suite)
    if mismatches:
        extra = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
        raise NotComparable(f"runs {earlier} and {later} are not comparable: {mismatches[0].line()}{extra}; "
                            "drift needs the same questions asked the same way (baseline = earlier run)")


def _unpaired(gap: dict[str, Any]) -> dict[str, Any]:
    return {"task": gap["task"], "n": 0, "earlier_mean": None, "later_mean": None, "change": None, "ci_low": None,
            "ci_high": None, "p_value": None, "identical_share": None, "errored_pairs": gap["errored_pairs"],
            "verdict": NO_PAIRS}


def _rows(con: duckdb.DuckDBPyConnection, earlier: str, later: str, suite: str, margin: float,
          max_error_rate: float) -> list[dict[str, Any]]:
    changes = fetch_dicts(con.execute("select * from quality_gap(?, ?, suite_name := ?, max_error_rate := ?)",
                                      [earlier, later, suite, max_error_rate]))
    if not changes:
        raise HarnessError(f"runs {earlier} and {later} share no scored task")
    same = {r["task"]: r for r in fetch_dicts(con.execute(_SAME, [earlier, later]))}
    rows = []
    for gap in changes:
        shared = same.get(gap["task"], {"compared": 0, "identical": 0})
        if not gap["n"]:
            rows.append(_unpaired(gap))
            continue
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
          run_ids: list[str] | None = None, max_error_rate: float = DEFAULT_MAX_ERROR_RATE) -> Drift:
    """Compare two runs of `provider` on `suite` and store the check (the tasks that have pairs).
    Raises NotComparable (nothing stored) for runs that are not two like-for-like runs of this profile
    within the error budget."""
    if margin < 0:
        raise HarnessError(f"--margin must be >= 0, got {margin}")
    check_max_error_rate(max_error_rate)
    store = Store(db, wait_s=10.0)
    with store.connect(read_only=True) as con:
        earlier, later = _pick(con, provider, suite, since, run_ids)
        _same_profile(con, provider, suite, earlier, later)
        _comparable(con, suite, earlier, later)
        refuse_errored_sides(con, earlier, later, suite, max_error_rate, names=("earlier", "later"))
        rows = _rows(con, earlier, later, suite, margin, max_error_rate)
        if all(r["verdict"] == NO_PAIRS for r in rows):
            raise NotComparable(f"runs {earlier} and {later} share no answered pair (every pair errored on a "
                                "side): nothing to measure")
        flipped = fetch_dicts(con.execute(_FLIPPED, [earlier, later]))
        who = {r[0]: r for r in con.execute(_WHO, [earlier, later]).fetchall()}
    result = Drift(provider, suite, earlier, later, margin, rows, flipped,
                   {run: list(who[run][1] or []) for run in who}, {run: list(who[run][2] or []) for run in who})
    for row in rows:
        row["flipped"] = sum(1 for f in flipped if f["task"] == row["task"])
    for row in rows:
        if row["verdict"] == NO_PAIRS:
            result.notes.append(f"{row['task']}: no pairs ({row['errored_pairs']} pairs errored on a side): "
                                "nothing measured, so not stored; resume the errored run")
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
    } for row in rows if row["verdict"] != NO_PAIRS])
    return result


def timeline(con: duckdb.DuckDBPyConnection, providers: list[str], suite: str | None) -> list[dict[str, Any]]:
    """Stored drift checks of these providers, oldest first: the report's timeline per task."""
    return fetch_dicts(con.execute(
        "select provider, suite, task, later_run, checked_at, change, ci_low, ci_high, identical_share, flipped,"
        " verdict, model_changed, fingerprint_changed from drift_checks"
        " where provider in (select unnest(?::varchar[])) and (? is null or suite = ?)"
        " order by provider, task, checked_at", [providers, suite, suite]))
