"""The same weights on several hosts: is "open weight" portable? One model served by transformers, by
llama.cpp's server, by a hosted endpoint... answers the same suite on each; each host ran it at least
twice (`harness eval --repeat 2`), so each host's own run-to-run noise is known.

Per host and task, over the docs every selected run answered (an errored generation is not an answer;
`unsupported: <feature>` is, and scores 0, as everywhere):
- `score`: the primary metric's mean over the host's runs; `noise`: the spread (max - min) of that
  mean across the host's runs, the host's run-to-run noise band;
- `tool_trigger`: the share of answers that called a tool, on tasks that offer tools; `tool_valid`:
  the share whose calls name an offered function with schema-valid arguments; `schema_valid`: the
  share of JSON answers valid under the requested schema (each where the task scores it).
Per task, each host against the first (the reference): the paired gap of per-doc scores (each doc's
mean over the host's runs) with the exact interval `harness compare` uses (betting, 95%), and a call:
`differs` only when the interval excludes 0 AND the gap is larger than both hosts' noise bands;
`within noise` when the interval excludes 0 but the gap does not exceed the noise; otherwise
`no difference shown` (which, on few docs, is not "the same"). A host difference is never called from
one run of each.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from harness.analysis import betting, gaps, guard
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE, check_max_error_rate
from harness.errors import HarnessError, NotComparable
from harness.store import Store
from harness.store.error_budget import over_budget
from harness.store.reads import fetch_dicts

MIN_REPEATS = 2

_RUNS = """
    select r.run_id, r.error_rate, r.n_errors, r.profile_hash, p.model, p.revision, p.kind
    from runs r join providers p using (profile_hash)
    where r.provider = $provider and r.suite = $suite and r.status = 'complete' and coalesce(r.source, 'live') = 'live'
    order by r.started_at desc, r.run_id desc limit $n
"""
# Each selected run's primary score per doc, with whether the doc errored (a failure, not unsupported).
_SCORES = """
    select s.run_id, s.task, s.doc_id, s.score, lh_failure(g.error) is not null as failed
    from samples s join task_scores t using (run_id, task, metric, filter)
    left join generations g using (run_id, task, doc_id)
    where t.is_primary and s.run_id in (select unnest($runs))
"""
# Tool and schema validity per run and task, where the task scores them, and how often a tool was called.
_VALIDITY = """
    select s.run_id, s.task, s.doc_id, s.metric, s.score,
           coalesce(json_array_length(g.tool_calls::json), 0) > 0 as called
    from samples s left join generations g using (run_id, task, doc_id)
    where s.metric in ('tool_valid', 'schema_valid', 'ast_match') and s.run_id in (select unnest($runs))
"""


@dataclass
class Host:
    provider: str
    runs: list[str]
    model: str
    revision: str | None
    kind: str


@dataclass
class Hosts:
    suite: str
    hosts: list[Host]
    rows: list[dict[str, Any]]  # per host and task
    differences: list[dict[str, Any]]  # per task and host other than the reference
    notes: list[str] = field(default_factory=list)


def compare_hosts(db: Path, providers: list[str], suite: str, repeats: int = MIN_REPEATS,
                  max_error_rate: float = DEFAULT_MAX_ERROR_RATE) -> Hosts:
    """The same-weights table for `providers` (the first is the reference) on `suite`."""
    if len(providers) < 2 or len(set(providers)) != len(providers):
        raise HarnessError("harness hosts needs two or more different providers (-p A -p B)")
    if repeats < MIN_REPEATS:
        raise HarnessError(f"--repeats must be at least {MIN_REPEATS}: one run per host has no noise band")
    check_max_error_rate(max_error_rate)
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        return _compare(con, providers, suite, repeats, max_error_rate)


def _compare(con: duckdb.DuckDBPyConnection, providers: list[str], suite: str, repeats: int,
             max_error_rate: float) -> Hosts:
    hosts = [_host(con, p, suite, repeats, max_error_rate) for p in providers]
    for host in hosts[1:]:  # the same questions asked the same way, or a difference is the harness's
        mismatches = guard.check(con, hosts[0].runs[0], host.runs[0], suite)
        if mismatches:
            raise NotComparable(f"{hosts[0].provider} and {host.provider} did not run '{suite}' alike: "
                                f"{mismatches[0].line()}; harness hosts needs the same questions on every host")
    scores = _doc_scores(con, hosts)
    rows = _host_rows(con, hosts, scores)
    differences = _differences(hosts, scores, rows)
    notes = _notes(hosts)
    return Hosts(suite, hosts, rows, differences, notes)


def _host(con: duckdb.DuckDBPyConnection, provider: str, suite: str, repeats: int, max_error_rate: float) -> Host:
    runs = fetch_dicts(con.execute(_RUNS, {"provider": provider, "suite": suite, "n": repeats}))
    if len(runs) < repeats:
        raise HarnessError(f"'{provider}' has {len(runs)} complete run(s) of suite '{suite}', {repeats} needed for "
                           f"its noise band: run `harness eval -p {provider} -s {suite} --repeat {repeats}`")
    for run in runs:
        if (run["error_rate"] or 0.0) > max_error_rate:
            raise over_budget(f"'{provider}''s", run["run_id"], run["n_errors"], run["error_rate"], max_error_rate)
    if len({r["profile_hash"] for r in runs}) > 1:
        raise NotComparable(f"'{provider}''s last {repeats} runs of '{suite}' used different versions of its profile: "
                            f"repeat the runs with one (`harness eval -p {provider} -s {suite} --repeat {repeats}`)")
    first = runs[0]
    return Host(provider, [r["run_id"] for r in runs], first["model"], first["revision"], first["kind"])


def _doc_scores(con: duckdb.DuckDBPyConnection, hosts: list[Host]) -> dict[str, dict[str, dict[str, dict[int, float]]]]:
    """task -> provider -> run -> doc -> score, over the docs that every selected run answered."""
    owner = {run: h.provider for h in hosts for run in h.runs}
    found: dict[str, dict[str, dict[str, dict[int, float]]]] = defaultdict(lambda: defaultdict(dict))
    failed: dict[str, set[int]] = defaultdict(set)
    for run, task, doc, score, is_failed in con.execute(_SCORES, {"runs": list(owner)}).fetchall():
        found[task][owner[run]].setdefault(run, {})[doc] = score
        if is_failed:
            failed[task].add(doc)
    every_run = len(owner)
    result: dict[str, dict[str, dict[str, dict[int, float]]]] = {}
    for task, by_host in sorted(found.items()):
        runs = [docs for per_run in by_host.values() for docs in per_run.values()]
        if len(runs) < every_run:
            continue  # a task some host did not run: not comparable across hosts
        common = set.intersection(*(set(d) for d in runs)) - failed[task]
        result[task] = {host: {run: {d: docs[d] for d in common} for run, docs in per_run.items()}
                        for host, per_run in by_host.items()}
    return result


def _validity(con: duckdb.DuckDBPyConnection, hosts: list[Host]) -> dict[tuple[str, str], dict[str, float]]:
    """(provider, task) -> tool_trigger / tool_valid / schema_valid shares over the host's runs."""
    owner = {run: h.provider for h in hosts for run in h.runs}
    sums: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run, task, _doc, metric, score, called in con.execute(_VALIDITY, {"runs": list(owner)}).fetchall():
        key = (owner[run], task)
        if metric in ("tool_valid", "ast_match"):
            sums[key]["tool_trigger"].append(float(called))
        if metric != "ast_match":
            sums[key][metric].append(score)
    return {key: {m: sum(v) / len(v) for m, v in shares.items() if v} for key, shares in sums.items()}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _host_rows(con: duckdb.DuckDBPyConnection, hosts: list[Host], scores: dict[str, Any]) -> list[dict[str, Any]]:
    validity = _validity(con, hosts)
    rows = []
    for task, by_host in scores.items():
        for host in hosts:
            per_run = [_mean(list(docs.values())) for docs in by_host[host.provider].values()]
            means = [m for m in per_run if m is not None]
            shares = validity.get((host.provider, task), {})
            rows.append({"task": task, "provider": host.provider, "runs": len(per_run),
                         "n": len(next(iter(by_host[host.provider].values()))),
                         "score": _mean(means), "noise": max(means) - min(means) if means else None,
                         "tool_trigger": shares.get("tool_trigger"), "tool_valid": shares.get("tool_valid"),
                         "schema_valid": shares.get("schema_valid")})
    return rows


def _per_doc(per_run: dict[str, dict[int, float]]) -> dict[int, float]:
    runs = list(per_run.values())
    return {doc: sum(r[doc] for r in runs) / len(runs) for doc in runs[0]}


def _differences(hosts: list[Host], scores: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    noise = {(r["provider"], r["task"]): r["noise"] for r in rows}
    reference = hosts[0].provider
    found = []
    for task, by_host in scores.items():
        base = _per_doc(by_host[reference])
        for host in hosts[1:]:
            other = _per_doc(by_host[host.provider])
            docs = sorted(base)
            lo, hi, _ = gaps.difference_range([base[d] for d in docs] + [other[d] for d in docs])
            diffs = [other[d] - base[d] for d in docs]
            band = max(noise[(reference, task)] or 0.0, noise[(host.provider, task)] or 0.0)
            row = {"task": task, "reference": reference, "provider": host.provider, "n": len(docs),
                   "gap": None, "ci_low": None, "ci_high": None, "noise": band, "call": "no docs"}
            if docs:
                test = betting.paired_test(diffs, 0.0, lo, hi, needed=False)
                row.update(gap=test.gap, ci_low=test.ci_low, ci_high=test.ci_high, call=_call(test, band))
            found.append(row)
    return found


def _call(test: betting.GapTest, band: float) -> str:
    if test.ci_low is None or test.ci_high is None or test.gap is None:
        return "no docs"
    excludes_zero = test.ci_low > 0.0 or test.ci_high < 0.0
    if not excludes_zero:
        return "no difference shown"
    return "differs" if abs(test.gap) > band else "within noise"


def _notes(hosts: list[Host]) -> list[str]:
    notes = [f"{h.provider}: {h.kind} {h.model}" + (f" ({h.revision})" if h.revision else "")
             + f"; runs {', '.join(h.runs)}" for h in hosts]
    models = {h.model for h in hosts}
    if len(models) > 1:
        notes.append("the profiles name different models (" + ", ".join(sorted(models)) + "): check they serve the "
                     "same weights (revision) before reading a host difference as the host's")
    return notes
