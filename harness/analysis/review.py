"""Everything a decision-review report shows, gathered from the database: the report layer renders
`ReportData` and never opens a connection itself.

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
from harness.analysis import gaps, stats
from harness.analysis.compare import CompareOptions, Comparison, compare, latency_notes
from harness.analysis.drift import timeline
from harness.analysis.features import feature_status, needed_features
from harness.analysis.risk import RISK_PARTS, RiskWeights, incumbent_from, parts_from
from harness.analysis.sizing import Sizing, rhythm_words, token_words
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE
from harness.config.features import FEATURES
from harness.config.lifecycle import Lifecycle
from harness.config.openness import DIMENSIONS, Openness
from harness.store import Store
from harness.store.reads import fetch_dicts, latest_profile
from harness.store.traffic import import_tokens, latest_imports

# Each side's tool calls are in `generations` (samples hold only the text of an answer).
_EXAMPLES = """
    select b.task, b.doc_id, b.prompt, b.target, b.response, c.response, gb.tool_calls::varchar,
           gc.tool_calls::varchar
    from samples b join samples c using (task, doc_id, metric, filter)
    left join generations gb on gb.run_id = b.run_id and gb.task = b.task and gb.doc_id = b.doc_id
    left join generations gc on gc.run_id = c.run_id and gc.task = c.task and gc.doc_id = c.doc_id
    where b.run_id = ? and c.run_id = ? and b.task = ? and b.metric = ? and b.filter = ?
      and b.score > c.score
    order by b.doc_id limit ?
"""
_EXAMPLE_KEYS = ("task", "doc_id", "prompt", "target", "baseline", "candidate", "baseline_tool_calls",
                 "candidate_tool_calls")
_PROVENANCE = """
    select r.run_id, r.provider, r.suite, r.status, r.started_at, r.finished_at, r.profile_hash, r.harness_version,
           r.lm_eval_version, r.transformers_version, r.torch_version, r.git_sha, r.chat_template, r.dtype,
           r.batch_size, coalesce(r.source, 'live') as source
    from runs r where r.run_id in (select unnest(?)) order by r.provider, r.started_at
"""


@dataclass
class CandidateReport:
    name: str
    comparison: Comparison
    retained_ci: tuple[float, float] | None
    risk: dict[str, Any]
    examples: list[dict[str, Any]]
    latency_notes: list[str] = field(default_factory=list)

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
    traffic: list[dict[str, Any]] = field(default_factory=list)  # imports behind a traffic suite
    drift: list[dict[str, Any]] = field(default_factory=list)  # stored drift checks, oldest first
    dimensions: tuple[str, ...] = DIMENSIONS
    # Per side: (name, five-number summary min/q1/median/q3/max, or None with no latencies).
    latencies: list[tuple[str, tuple[float, ...] | None]] = field(default_factory=list)
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
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    # Volume and latency targets (a volume not given is the compared traffic's): the monthly bills.
    sizing: Sizing | None = None
    serving: str | None = None  # the profile whose load tests size the candidates


def build(db: Path, options: ReportOptions) -> ReportData:
    comparisons = [compare(db, CompareOptions(options.baseline, c, options.suite, options.margin,
                                              options.allow_mismatch, max_error_rate=options.max_error_rate,
                                              examples=min(options.examples, 2), sizing=options.sizing,
                                              serving=options.serving))
                   for c in options.candidates]
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
            provenance=fetch_dicts(con.execute(_PROVENANCE, [run_ids])), latencies=_latencies(con, comparisons),
            traffic=_traffic(con, run_ids), drift=timeline(con, providers, options.suite),
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    return data


def _traffic(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[dict[str, Any]]:
    """What the compared runs' imported traffic suites are made of (the newest import of each), with
    each one's rhythm and tokens per request in words."""
    imports = latest_imports(con, run_ids)
    for row in imports:
        tokens = token_words(import_tokens(con, row["suite"], row["imported_at"]))
        row.update(rhythm=rhythm_words(row), tokens=tokens)
    return imports


def _candidate(con: duckdb.DuckDBPyConnection, comparison: Comparison, incumbent: dict[str, Any],
               options: ReportOptions) -> CandidateReport:
    tasks = [r for r in comparison.rows if r["task"] != "OVERALL"]
    strata = [(*gaps.paired_scores(con, r), r["weight"]) for r in tasks]
    parts = parts_from(comparison, incumbent_from(con, comparison.baseline_provider))
    weights = options.weights.model_dump()
    values = [getattr(parts, p) for p in RISK_PARTS] + [weights[p] for p in RISK_PARTS]
    marks = ", ".join("?" * len(values))
    score = con.execute(f"select lh_risk_score7({marks})", values).fetchone()[0]  # type: ignore[index]
    examples = []
    for row in tasks:
        found = con.execute(_EXAMPLES, [row["baseline_run"], row["candidate_run"], row["task"], row["metric"],
                                        row["filter"], options.examples]).fetchall()
        examples += [{**dict(zip(_EXAMPLE_KEYS, f, strict=True)), "prompt": _readable(f[2])} for f in found]
    return CandidateReport(
        name=comparison.candidate_provider, comparison=comparison, retained_ci=stats.stratified_retained(strata),
        risk={"score": score, "parts": {p: getattr(parts, p) for p in RISK_PARTS}, "weights": weights,
              "detail": parts.detail},
        examples=examples[: options.examples * 2], latency_notes=latency_notes(comparison),
    )


def _profile(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, Any]:
    stored = latest_profile(con, provider)
    if stored is None:
        return {"entry": {}, "model": "", "profile_hash": "", "pricing": {}}
    profile = stored["profile"]
    openness = Openness.model_validate(profile["openness"])
    entry = openness.model_dump(mode="json", by_alias=True)
    lifecycle = Lifecycle.model_validate(profile["lifecycle"]) if profile.get("lifecycle") else None
    return {"entry": entry, "model": stored["model"], "profile_hash": stored["profile_hash"],
            "pricing": profile.get("pricing") or {},
            "index_score": openness.index.score if openness.index else None,
            "lifecycle": lifecycle.model_dump(mode="json") if lifecycle else None,
            "days_to_retirement": lifecycle.days_to_retirement() if lifecycle else None}


def _capability_matrix(con: duckdb.DuckDBPyConnection, providers: list[str]) -> list[dict[str, Any]]:
    statuses = {p: feature_status(con, p) for p in providers}
    return [{"feature": f, **{p: statuses[p][f]["status"] for p in providers}} for f in FEATURES]


# quantile_cont, as in the p50/p95 columns of `migration()`: one definition of a median on the page.
_LATENCY_SUMMARY = """
    select min(latency_ms), quantile_cont(latency_ms, 0.25), quantile_cont(latency_ms, 0.5),
           quantile_cont(latency_ms, 0.75), max(latency_ms)
    from generations g join (select unnest(?) as run_id, unnest(?) as task) w using (run_id, task)
    where latency_ms is not null
"""


def _latencies(con: duckdb.DuckDBPyConnection,
               comparisons: list[Comparison]) -> list[tuple[str, tuple[float, ...] | None]]:
    series = []
    sides = [("baseline_run", comparisons[0].baseline_provider)] if comparisons else []
    for index, (key, name) in enumerate(sides + [("candidate_run", c.candidate_provider) for c in comparisons]):
        source = comparisons[0] if index == 0 else comparisons[index - 1]
        runs = [(r[key], r["task"]) for r in source.rows if r["task"] != "OVERALL"]
        row = con.execute(_LATENCY_SUMMARY, [[r for r, _ in runs], [t for _, t in runs]]).fetchone()
        series.append((name, None if row is None or row[0] is None else tuple(float(v) for v in row)))
    return series


def _readable(prompt: str) -> str:
    """Chat prompts are stored as JSON messages; show them as 'role: content' turns."""
    try:
        messages = json.loads(prompt)
    except json.JSONDecodeError:
        return prompt
    if not (isinstance(messages, list) and all(isinstance(m, dict) and "content" in m for m in messages)):
        return prompt
    return "\n\n".join(f"{m.get('role', '?')}: {m['content']}" for m in messages)
