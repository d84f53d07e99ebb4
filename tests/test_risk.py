"""The lock-in risk score: monotone in every part, combined exactly as docs/lockin-risk.md says,
and stored so that probing or scoring again replaces rather than duplicates."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from bench.synthetic import open_store
from harness.analysis.compare import Comparison
from harness.analysis.risk import Incumbent, RiskWeights, load_weights, parts_from, retirement_part
from harness.config.lifecycle import Lifecycle
from harness.config.openness import Openness
from harness.errors import HarnessError
from tests.conftest import run_harness

PARTS = ("quality", "infeasible", "features", "openness", "price", "retirement", "drift")
LEVELS = (0.0, 0.3, 1.0)


def _score(con: duckdb.DuckDBPyConnection, parts: dict[str, float], weights: dict[str, float]) -> float:
    args = [parts[p] for p in PARTS] + [weights[p] for p in PARTS]
    return con.execute(f"select lh_risk_score7({', '.join('?' * 14)})", args).fetchone()[0]  # type: ignore[index]


def test_score_is_the_documented_weighted_mean() -> None:
    con = open_store()
    weights = RiskWeights().model_dump()
    parts = {"quality": 0.2, "infeasible": 0.5, "features": 1.0, "openness": 1.0, "price": 0.0, "retirement": 0.25,
             "drift": 0.1}
    expected = 100 * sum(weights[p] * parts[p] for p in PARTS) / sum(weights.values())
    assert _score(con, parts, weights) == pytest.approx(expected)
    assert _score(con, dict.fromkeys(PARTS, 0.0), weights) == 0
    assert _score(con, dict.fromkeys(PARTS, 1.0), weights) == pytest.approx(100)


@pytest.mark.parametrize("part", PARTS)
def test_a_worse_part_never_lowers_the_score(part: str) -> None:
    con = open_store()
    others = [p for p in PARTS if p != part]
    for weights in (RiskWeights().model_dump(), {**dict.fromkeys(PARTS, 1.0), part: 0.0}):
        for values in itertools.product((0.0, 1.0), repeat=len(others)):
            base = dict(zip(others, values, strict=True))
            scores = [_score(con, {**base, part: level}, weights) for level in LEVELS]
            assert scores == sorted(scores), (part, base, scores)


def _comparison(retained: float, verdicts: list[str], gaps: list[str], needed: list[str],
                costs: tuple[float | None, float | None]) -> Comparison:
    rows = [{"task": f"t{i}", "verdict": v} for i, v in enumerate(verdicts)]
    rows.append({"task": "OVERALL", "retained": retained, "baseline_cost_per_1k": costs[0],
                 "candidate_cost_per_1k": costs[1], "verdict": "inconclusive"})
    capability_gaps = [{"feature": f, "candidate_status": s} for f, s in (g.split(":") for g in gaps)]
    return Comparison("b", "c", None, 0.05, rows, capability_gaps=capability_gaps, needed_features=needed)


PROPRIETARY = Incumbent(Openness.model_validate({"class": "proprietary", "licence": "proprietary", "weights": False,
                                                 "code": False, "data": False}))


def test_parts_follow_their_inputs() -> None:
    parts = parts_from(_comparison(0.8, ["feasible", "infeasible", "inconclusive", "infeasible"],
                                   ["tools:fail", "json_mode:unknown"], ["tools", "json_mode", "stop_sequences"],
                                   (2.0, 3.0)), PROPRIETARY)
    assert parts.quality == pytest.approx(0.2)
    assert parts.infeasible == pytest.approx(0.5)
    assert parts.features == pytest.approx((1 + 0.5) / 3)  # unverified counts half
    assert parts.openness == 1.0
    assert parts.price == pytest.approx(0.5)
    assert (parts.retirement, parts.drift) == (0.0, 0.0)  # no retirement announced, never drift-checked
    better = parts_from(_comparison(1.3, ["feasible"], [], [], (2.0, 1.0)), PROPRIETARY)
    assert (better.quality, better.infeasible, better.features, better.price) == (0, 0, 0, 0)


def test_retirement_and_drift_parts() -> None:
    from datetime import date, timedelta

    def lifecycle(days: int) -> Lifecycle:
        today = date.today()
        return Lifecycle(released=today - timedelta(days=800), deprecation_announced=today - timedelta(days=200),
                         retirement=today + timedelta(days=days), source="https://example.com/deprecations",
                         as_of=today)

    assert retirement_part(None) == 0.0
    assert retirement_part(lifecycle(-3)) == 1.0 and retirement_part(lifecycle(0)) == 1.0
    assert retirement_part(lifecycle(73)) == pytest.approx(0.8) and retirement_part(lifecycle(400)) == 0.0
    drifted = parts_from(_comparison(1.0, ["feasible"], [], [], (1.0, 1.0)),
                         Incumbent(PROPRIETARY.openness, lifecycle(73), identical_share=0.75))
    assert drifted.retirement == pytest.approx(0.8) and drifted.drift == pytest.approx(0.25)
    assert drifted.detail["incumbent_days_to_retirement"] == 73


@pytest.mark.parametrize("worse", ["retained", "verdicts", "gaps", "price"])
def test_parts_are_monotone_in_the_evidence(worse: str) -> None:
    args = {"retained": 0.9, "verdicts": ["feasible", "inconclusive"], "gaps": [], "costs": (1.0, 1.2)}
    changed = {**args, **{
        "retained": {"retained": 0.7}, "verdicts": {"verdicts": ["infeasible", "inconclusive"]},
        "gaps": {"gaps": ["tools:unsupported"]}, "price": {"costs": (1.0, 1.9)},
    }[worse]}
    needed = ["tools", "stop_sequences"]
    before = parts_from(_comparison(args["retained"], args["verdicts"], args["gaps"], needed, args["costs"]),
                        PROPRIETARY)
    after = parts_from(_comparison(changed["retained"], changed["verdicts"], changed["gaps"], needed,
                                   changed["costs"]), PROPRIETARY)
    con = open_store()
    weights = RiskWeights().model_dump()
    score = lambda p: _score(con, {n: getattr(p, n) for n in PARTS}, weights)  # noqa: E731
    assert score(after) > score(before)


def test_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text("[risk]\nquality = 1\nprice = 0\n")
    assert load_weights(path).quality == 1 and load_weights(path).price == 0
    path.write_text("[risk]\nqualty = 1\n")
    with pytest.raises(HarnessError, match="qualty"):
        load_weights(path)


def test_harness_risk_stores_parts_and_lockin_risk_view(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "risk.duckdb"
    shutil.copy(fake_runs["db"], db)
    for _ in range(2):  # scoring again replaces the row
        result = run_harness("risk", "-i", "fake", "-f", "json", "--db", str(db))
        assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["candidate"] for r in rows] == ["fake2"]
    assert 0 <= rows[0]["score"] <= 100
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from risk_parts").fetchone() == (1,)
        best = con.execute("select best_candidate, score, quality, features, openness from lockin_risk").fetchall()
    finally:
        con.close()
    assert best[0][0] == "fake2" and best[0][1] == pytest.approx(rows[0]["score"])
    table = run_harness("risk", "-i", "fake", "--db", str(db))
    assert "quality (w 0.35)" in table.stdout
