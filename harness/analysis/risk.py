"""Lock-in risk of an incumbent against its best candidate (docs/lockin-risk.md).

Five parts, each in [0, 1] where 1 is most locked in, are computed here from `harness compare`'s
numbers, the probed capabilities and the openness registry, stored in `risk_parts`, and combined in
SQL (`lh_risk_score`, views `risk_scores` and `lockin_risk`) as a weighted mean on 0-100.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.analysis.capabilities import LACKING
from harness.analysis.compare import CompareOptions, Comparison, compare
from harness.errors import HarnessError
from harness.openness import Openness, exposure
from harness.store import Store
from harness.validation import one_line


class RiskWeights(BaseModel):
    """How much each part counts; any non-negative numbers (they are normalised)."""

    model_config = ConfigDict(extra="forbid")

    quality: float = Field(default=0.35, ge=0)  # quality lost by moving to the candidate
    infeasible: float = Field(default=0.20, ge=0)  # share of tasks where moving is shown infeasible
    features: float = Field(default=0.20, ge=0)  # API features the suite needs that the candidate lacks
    openness: float = Field(default=0.15, ge=0)  # how much of the incumbent a vendor controls
    price: float = Field(default=0.10, ge=0)  # what the candidate costs above the incumbent


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


@dataclass(frozen=True)
class RiskParts:
    quality: float
    infeasible: float
    features: float
    openness: float
    price: float
    detail: dict[str, Any]


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def parts_from(comparison: Comparison, incumbent: Openness) -> RiskParts:
    """The five parts for one incumbent/candidate comparison."""
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
    }
    return RiskParts(quality, infeasible, features, exposure(incumbent), price, detail)


_PART_NAMES = ("quality", "infeasible", "features", "openness", "price")


@dataclass(frozen=True)
class RiskOptions:
    incumbent: str
    candidates: list[str]
    suite: str | None = None
    margin: float = 0.05
    weights: RiskWeights = field(default_factory=RiskWeights)
    allow_mismatch: bool = False


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
                                                    options.allow_mismatch, bootstrap_iterations=200))
        except HarnessError as exc:
            if "not comparable" not in str(exc) or options.candidates:
                raise
            notes.append(f"{candidate} skipped: {exc}")
            continue
        parts = parts_from(comparison, _openness(db, comparison.baseline_provider))
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


def _openness(db: Path, provider: str) -> Openness:
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        row = con.execute("select profile_json from providers where name = ? order by first_seen desc limit 1",
                          [provider]).fetchone()
    if row is None:
        raise HarnessError(f"no stored profile for '{provider}'")
    return Openness.model_validate(json.loads(row[0])["openness"])


def _store(db: Path, options: RiskOptions, stored: list[tuple[str, RiskParts]]) -> list[dict[str, Any]]:
    suite = options.suite or "*"
    weights = options.weights.model_dump()
    with Store(db).connect() as con:
        con.execute("begin transaction")
        for candidate, parts in stored:
            con.execute("delete from risk_parts where incumbent = ? and candidate = ? and suite = ?",
                        [options.incumbent, candidate, suite])
            con.execute(
                "insert into risk_parts (incumbent, candidate, suite, margin, quality, infeasible, features, openness,"
                " price, w_quality, w_infeasible, w_features, w_openness, w_price, detail)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [options.incumbent, candidate, suite, options.margin,
                 *(getattr(parts, n) for n in _PART_NAMES), *(weights[n] for n in _PART_NAMES),
                 json.dumps(parts.detail, default=str)],
            )
        con.execute("commit")
        cursor = con.execute(
            "select * from risk_scores where incumbent = ? and suite = ? and candidate in (select unnest(?))"
            " order by score, candidate", [options.incumbent, suite, [c for c, _ in stored]])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
