"""Everything a decision-review report shows, gathered from the database through the analysis layer.

Nothing here writes: the risk score is computed in memory (the same parts and SQL formula as
`harness risk`), so building a report never changes what `lockin_risk` holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from harness import __version__
from harness.analysis import stats
from harness.analysis.capabilities import feature_status, needed_features
from harness.analysis.compare import CompareOptions, Comparison, compare, paired_scores
from harness.analysis.risk import RiskWeights, parts_from
from harness.capabilities import FEATURES
from harness.openness import Openness
from harness.store import Store

_PARTS = ("quality", "infeasible", "features", "openness", "price")
_EXAMPLES = """
    select b.task, b.doc_id, b.prompt, b.target, b.response, c.response
    from samples b join samples c using (task, doc_id, metric, filter)
    where b.run_id = ? and c.run_id = ? and b.task = ? and b.metric = ? and b.filter = ?
      and b.score > c.score
    order by b.doc_id limit ?
"""
_PROVENANCE = """
    select r.run_id, r.provider, r.suite, r.status, r.started_at, r.finished_at, r.profile_hash, r.harness_version,
           r.lm_eval_version, r.transformers_version, r.torch_version, r.git_sha, r.chat_template, r.dtype,
           r.batch_size
    from runs r where r.run_id in (select unnest(?)) order by r.provider, r.started_at
"""


@dataclass
class CandidateReport:
    name: str
    comparison: Comparison
    retained_ci: tuple[float, float] | None
    risk: dict[str, Any]
    examples: list[dict[str, Any]]

    @property
    def overall(self) -> dict[str, Any]:
        return next(r for r in self.comparison.rows if r["task"] == "OVERALL")

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return [r for r in self.comparison.rows if r["task"] != "OVERALL"]


@dataclass
class ReportData:
    baseline: str
    suite: str | None
    margin: float
    candidates: list[CandidateReport]
    openness: list[dict[str, Any]] = field(default_factory=list)
    capabilities: list[dict[str, Any]] = field(default_factory=list)
    needed: list[str] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[tuple[str, list[float]]] = field(default_factory=list)
    generated_at: str = ""
    harness_version: str = __version__


@dataclass(frozen=True)
class ReportOptions:
    baseline: str
    candidates: list[str]
    suite: str | None = None
    margin: float = 0.05
    weights: RiskWeights = field(default_factory=RiskWeights)
    allow_mismatch: bool = False
    examples: int = 3


def build(db: Path, options: ReportOptions) -> ReportData:
    comparisons = [compare(db, CompareOptions(options.baseline, c, options.suite, options.margin,
                                              options.allow_mismatch)) for c in options.candidates]
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        baseline_provider = comparisons[0].baseline_provider
        providers = [baseline_provider, *(c.candidate_provider for c in comparisons)]
        openness = {p: _profile(con, p) for p in providers}
        candidates = [_candidate(con, c, openness[baseline_provider], options) for c in comparisons]
        run_ids = sorted({r[k] for c in comparisons for r in c.rows if r["task"] != "OVERALL"
                          for k in ("baseline_run", "candidate_run")})
        data = ReportData(
            baseline=baseline_provider, suite=options.suite, margin=options.margin, candidates=candidates,
            openness=[{"provider": p, **openness[p]} for p in providers],
            capabilities=_capability_matrix(con, providers), needed=needed_features(con, run_ids),
            provenance=_rows(con, _PROVENANCE, [run_ids]), latencies=_latencies(con, comparisons),
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    return data


def _candidate(con: duckdb.DuckDBPyConnection, comparison: Comparison, incumbent: dict[str, Any],
               options: ReportOptions) -> CandidateReport:
    tasks = [r for r in comparison.rows if r["task"] != "OVERALL"]
    strata = [(*paired_scores(con, r), r["weight"]) for r in tasks]
    parts = parts_from(comparison, Openness.model_validate(incumbent["entry"]))
    weights = options.weights.model_dump()
    values = [getattr(parts, p) for p in _PARTS] + [weights[p] for p in _PARTS]
    score = con.execute(f"select lh_risk_score({', '.join('?' * 10)})", values).fetchone()[0]  # type: ignore[index]
    examples = []
    for row in tasks:
        found = con.execute(_EXAMPLES, [row["baseline_run"], row["candidate_run"], row["task"], row["metric"],
                                        row["filter"], options.examples]).fetchall()
        examples += [{**dict(zip(("task", "doc_id", "prompt", "target", "baseline", "candidate"), f, strict=True)),
                      "prompt": _readable(f[2])} for f in found]
    return CandidateReport(
        name=comparison.candidate_provider, comparison=comparison, retained_ci=stats.stratified_retained(strata),
        risk={"score": score, "parts": {p: getattr(parts, p) for p in _PARTS}, "weights": weights,
              "detail": parts.detail},
        examples=examples[: options.examples * 2],
    )


def _profile(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, Any]:
    row = con.execute("select profile_json, profile_hash, model from providers where name = ?"
                      " order by first_seen desc limit 1", [provider]).fetchone()
    profile = json.loads(row[0]) if row else {}
    entry = Openness.model_validate(profile["openness"]).model_dump(mode="json", by_alias=True) if row else {}
    return {"entry": entry, "model": row[2] if row else "", "profile_hash": row[1] if row else "",
            "pricing": profile.get("pricing") or {}}


def _capability_matrix(con: duckdb.DuckDBPyConnection, providers: list[str]) -> list[dict[str, Any]]:
    statuses = {p: feature_status(con, p) for p in providers}
    return [{"feature": f, **{p: statuses[p][f]["status"] for p in providers}} for f in FEATURES]


def _latencies(con: duckdb.DuckDBPyConnection, comparisons: list[Comparison]) -> list[tuple[str, list[float]]]:
    series = []
    sides = [("baseline_run", comparisons[0].baseline_provider)] if comparisons else []
    for index, (key, name) in enumerate(sides + [("candidate_run", c.candidate_provider) for c in comparisons]):
        source = comparisons[0] if index == 0 else comparisons[index - 1]
        runs = [(r[key], r["task"]) for r in source.rows if r["task"] != "OVERALL"]
        values = [v[0] for run, task in runs for v in con.execute(
            "select latency_ms from generations where run_id = ? and task = ? and latency_ms is not null",
            [run, task]).fetchall()]
        series.append((name, values))
    return series


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(query, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _readable(prompt: str) -> str:
    """Chat prompts are stored as JSON messages; show them as 'role: content' turns."""
    try:
        messages = json.loads(prompt)
    except json.JSONDecodeError:
        return prompt
    if not (isinstance(messages, list) and all(isinstance(m, dict) and "content" in m for m in messages)):
        return prompt
    return "\n\n".join(f"{m.get('role', '?')}: {m['content']}" for m in messages)
