"""Lock-in risk of an incumbent against its best candidate (docs/lockin-risk.md).

Seven parts, each in [0, 1] where 1 is most locked in, are computed here from `harness compare`'s
numbers, the probed capabilities, the openness registry (the index's grades where a profile has
them), the incumbent's lifecycle and its drift checks, stored in `risk_parts`, and combined in SQL
(`lh_risk_score7`, views `risk_scores` and `lockin_risk`) as a weighted mean on 0-100.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.analysis.compare import CompareOptions, Comparison, compare
from harness.analysis.features import LACKING
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE
from harness.config.lifecycle import Lifecycle
from harness.config.openness import Openness, exposure
from harness.errors import HarnessError, NotComparable, one_line
from harness.store import Store
from harness.store.reads import latest_profile
from harness.store.risk import replace_risk_parts


class RiskWeights(BaseModel):
    """How much each part counts; any non-negative numbers (they are normalised)."""

    model_config = ConfigDict(extra="forbid")

    quality: float = Field(default=0.35, ge=0)  # quality lost by moving to the candidate
    infeasible: float = Field(default=0.20, ge=0)  # share of tasks where moving is shown infeasible
    features: float = Field(default=0.20, ge=0)  # API features the suite needs that the candidate lacks
    openness: float = Field(default=0.15, ge=0)  # how much of the incumbent a vendor controls
    price: float = Field(default=0.10, ge=0)  # what the candidate costs above the incumbent
    retirement: float = Field(default=0.10, ge=0)  # how soon the incumbent's announced retirement comes
    drift: float = Field(default=0.10, ge=0)  # how much the incumbent's answers changed between its runs


def load_weights(path: Path | None) -> RiskWeights:
    """Defaults, or the `[risk]` table of a TOML file."""
    if path is None:
        return RiskWeights()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        weights = RiskWeights.model_validate(data.get("risk", {}))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read risk weights: {exc}") from exc
    except ValidationError as exc:
        raise HarnessError(one_line(f"{path} [risk]", exc)) from exc
    if sum(weights.model_dump().values()) <= 0:
        raise HarnessError(f"{path}: risk weights must not all be zero")
    return weights


# The seven parts, in the order of `lh_risk_score7`'s arguments (and of every table that shows them).
RISK_PARTS = ("quality", "infeasible", "features", "openness", "price", "retirement", "drift")


@dataclass(frozen=True)
class RiskParts:
    quality: float
    infeasible: float
    features: float
    openness: float
    price: float
    retirement: float
    drift: float
    detail: dict[str, Any]


@dataclass(frozen=True)
class Incumbent:
    """What the store knows of the incumbent beyond one comparison."""

    openness: Openness
    lifecycle: Lifecycle | None = None
    identical_share: float | None = None  # its latest drift check: share of identical answers


def retirement_part(lifecycle: Lifecycle | None) -> float:
    """1 once retired, falling linearly to 0 a year before; 0 when no retirement is announced."""
    days = lifecycle.days_to_retirement() if lifecycle else None
    return 0.0 if days is None else _clamp(1 - days / 365)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def parts_from(comparison: Comparison, known: Incumbent) -> RiskParts:
    """The seven parts for one incumbent/candidate comparison."""
    incumbent = known.openness
    overall = next(r for r in comparison.rows if r["task"] == "OVERALL")
    tasks = [r for r in comparison.rows if r["task"] != "OVERALL"]
    retained = overall["retained"]
    quality = 0.0 if retained is None else _clamp(1 - retained)
    infeasible = sum(r["verdict"] == "infeasible" for r in tasks) / len(tasks)
    missing = [g["feature"] for g in comparison.capability_gaps if g["candidate_status"] in LACKING]
    unverified = [g["feature"] for g in comparison.capability_gaps if g["candidate_status"] not in LACKING]
    needed = len(comparison.needed_features)
    features = (len(missing) + 0.5 * len(unverified)) / needed if needed else 0.0
    base_cost, cand_cost = overall["baseline_cost_per_1k"], overall["candidate_cost_per_1k"]
    price = _clamp((cand_cost - base_cost) / base_cost) if base_cost and cand_cost is not None else 0.0
    detail = {
        "retained": retained, "infeasible_tasks": [r["task"] for r in tasks if r["verdict"] == "infeasible"],
        "tasks": len(tasks), "needed_features": comparison.needed_features, "missing_features": missing,
        "unverified_features": unverified, "incumbent_class": incumbent.class_,
        "incumbent_licence": incumbent.licence,
        "incumbent_restrictions": sorted({r.kind for r in incumbent.restrictions}),
        "baseline_cost_per_1k": base_cost, "candidate_cost_per_1k": cand_cost,
        "price_note": None if base_cost and cand_cost is not None else "no cost data on one side: price part 0",
        "mismatches": comparison.mismatches,
        "incumbent_openness_index": incumbent.index.score if incumbent.index else None,
        "incumbent_retirement": str(known.lifecycle.retirement) if known.lifecycle and known.lifecycle.retirement
        else None,
        "incumbent_days_to_retirement": known.lifecycle.days_to_retirement() if known.lifecycle else None,
        "incumbent_identical_share": known.identical_share,
        "drift_note": None if known.identical_share is not None else "no drift check of the incumbent: drift part 0",
    }
    drift = 0.0 if known.identical_share is None else _clamp(1 - known.identical_share)
    return RiskParts(quality, infeasible, features, exposure(incumbent), price, retirement_part(known.lifecycle),
                     drift, detail)


@dataclass(frozen=True)
class RiskOptions:
    incumbent: str
    candidates: list[str]
    suite: str | None = None
    margin: float = 0.05
    weights: RiskWeights = field(default_factory=RiskWeights)
    allow_mismatch: bool = False
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE


def assess(db: Path, options: RiskOptions) -> tuple[list[dict[str, Any]], list[str]]:
    """Score the incumbent against each candidate; store the parts; return (scored rows best first,
    notes on candidates skipped as not comparable)."""
    candidates = options.candidates or _other_providers(db, options.incumbent, options.suite)
    if not candidates:
        raise HarnessError(f"no candidate with a complete run to compare against '{options.incumbent}'")
    stored, notes = [], []
    for candidate in candidates:
        try:
            comparison = compare(db, CompareOptions(options.incumbent, candidate, options.suite, options.margin,
                                                    options.allow_mismatch, bootstrap_iterations=200,
                                                    max_error_rate=options.max_error_rate))
        except NotComparable as exc:
            if options.candidates:
                raise
            notes.append(f"{candidate} skipped: {exc}")
            continue
        parts = parts_from(comparison, incumbent_known(db, comparison.baseline_provider))
        stored.append((comparison.candidate_provider, parts))
    if not stored:
        raise HarnessError("; ".join(notes))
    return _store(db, options, stored), notes


def _other_providers(db: Path, incumbent: str, suite: str | None) -> list[str]:
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        rows = con.execute("select distinct provider from runs where status = 'complete' and provider <> $incumbent"
                           " and ($suite is null or suite = $suite) order by provider",
                           {"incumbent": incumbent, "suite": suite}).fetchall()
    return [r[0] for r in rows]


def incumbent_known(db: Path, provider: str) -> Incumbent:
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        return incumbent_from(con, provider)


def incumbent_from(con: duckdb.DuckDBPyConnection, provider: str) -> Incumbent:
    """The incumbent's stored openness and lifecycle, and the identical share of its latest drift check."""
    stored = latest_profile(con, provider)
    found = con.execute(
        "select avg(identical_share) from drift_checks where provider = ? and checked_at ="
        " (select max(checked_at) from drift_checks where provider = ?)", [provider, provider]).fetchone()
    if stored is None:
        raise HarnessError(f"no stored profile for '{provider}'")
    lifecycle = stored["profile"].get("lifecycle")
    return Incumbent(Openness.model_validate(stored["profile"]["openness"]),
                     Lifecycle.model_validate(lifecycle) if lifecycle else None,
                     found[0] if found and found[0] is not None else None)


def _store(db: Path, options: RiskOptions, stored: list[tuple[str, RiskParts]]) -> list[dict[str, Any]]:
    """Hand the parts to the store (which replaces earlier ones) and return the scored rows, best first."""
    suite = options.suite or "*"
    weights = options.weights.model_dump()
    rows = [{"incumbent": options.incumbent, "candidate": candidate, "suite": suite, "margin": options.margin,
             **{name: getattr(parts, name) for name in RISK_PARTS},
             **{f"w_{name}": weights[name] for name in RISK_PARTS},
             "detail": json.dumps(parts.detail, default=str)} for candidate, parts in stored]
    return replace_risk_parts(Store(db), rows)
