"""Calibration by simulation, a fast subset of bench/calibration.py through the same functions: the shipped
`betting` method covers the true gap, declares a candidate exactly at the margin "feasible" (or an equal one
"infeasible") at most 5% of the time, and never leaves [-1, 1], at n = 3, 5, 20 and for the OVERALL. Also
pins why the old methods were replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.calibration import (
    COVERAGE_GATE,
    ERROR_GATE,
    MARGIN,
    PAIRED_T,
    SHAPES,
    SHIPPED,
    SIGN_FLIP,
    WEIGHTED_NORMAL,
    Setting,
    betting,
    draw,
    evaluate,
    paired_t,
    sign_flip,
)

REPS = 150
# Monte Carlo tolerance: at 150 seeded datasets a share near 0.05 has standard error sqrt(.05 * .95 / 150) =
# 0.018, and coverage near 0.93 has 0.021. A method exactly at a gate would fail it on about half of all
# seeds with no tolerance; allowing 2 SE, about 2.3% (one-sided normal tail). The full bench (600 datasets per
# task setting, 120 per OVERALL) holds the gates with no tolerance; the shipped method is conservative, so its
# false-verdict rates sit far below 0.05 and the tolerance never decides the outcome.
RATE_LIMIT = ERROR_GATE + 2 * math.sqrt(ERROR_GATE * (1 - ERROR_GATE) / REPS)
COVERAGE_LIMIT = COVERAGE_GATE - 2 * math.sqrt(COVERAGE_GATE * (1 - COVERAGE_GATE) / REPS)

GATED = [
    Setting("task", "binary", 0.0, (3,)),
    Setting("task", "binary", -MARGIN, (3,)),
    Setting("task", "smooth", -MARGIN, (3,)),
    Setting("task", "constant", 0.0, (5,)),
    Setting("task", "constant", -MARGIN, (5,)),
    Setting("task", "identical", 0.0, (5,)),
    Setting("task", "piled", -MARGIN, (5,)),
    Setting("task", "binary-one-sided", -MARGIN, (20,)),
    Setting("task", "binary-one-sided", 0.0, (20,)),
    Setting("task", "rare-partial", -MARGIN, (20,)),
    Setting("task", "constant", -MARGIN, (20,)),
    Setting("task", "identical", 0.0, (20,)),
    Setting("task", "binary", 0.0, (50,)),
    Setting("task", "piled", -3 * MARGIN, (200,)),
    Setting("overall", "binary-one-sided", -MARGIN, (5, 20, 50), (0.5, 0.3, 0.2)),
]


@pytest.mark.parametrize("setting", GATED, ids=lambda s: s.name)
def test_shipped_method_holds_the_gates(setting: Setting) -> None:
    result = evaluate(setting, REPS)
    shipped = result["methods"][SHIPPED]
    assert result["reps"] == REPS
    assert shipped["coverage"] >= COVERAGE_LIMIT, shipped
    assert shipped["out_of_range"] == 0, shipped
    assert shipped["p_verdict_mismatch"] == 0, shipped
    if math.isclose(setting.gap, -MARGIN):
        assert shipped["feasible"] <= RATE_LIMIT, shipped
    if setting.gap == 0.0:
        assert shipped["infeasible"] <= RATE_LIMIT, shipped
    if setting.sizes[0] <= 5 and setting.level == "task":  # no 5 docs can compound to 40x: no verdict at all
        assert shipped["too_few"] == 1.0, shipped


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_has_the_true_gap_it_claims(shape: str) -> None:
    # 2x10^5 doc differences per gap: the mean must sit within 4 standard errors of the declared truth.
    rng = np.random.default_rng(7)
    for gap in SHAPES[shape].gaps:
        setting = Setting("task", shape, gap, (200,))
        [(baseline, candidate)] = draw(setting, 1000, rng)
        assert baseline.min() >= 0 and candidate.min() >= 0 and baseline.max() <= 1 and candidate.max() <= 1
        d = candidate - baseline
        assert abs(d.mean() - setting.truth) <= 4 * d.std() / math.sqrt(d.size) + 1e-12, (shape, gap, d.mean())


def test_old_paired_t_is_certain_from_five_identical_differences() -> None:
    # Why the paired t was replaced: constant differences have sd 0, so its interval has zero width and five
    # docs give a confident verdict; the betting interval keeps its width and says "too few documents".
    d = np.full((1, 5), 0.0)
    low, high, se = paired_t(d)
    assert se[0] == 0 and low[0] == high[0] == 0.0
    ship_low, ship_high, verdict, _ = betting([d], [1.0])
    assert verdict[0] == "too few documents" and ship_high[0] - ship_low[0] > 0.5
    result = evaluate(Setting("task", "constant", 0.0, (5,)), 50)
    assert result["methods"][PAIRED_T]["zero_width"] == 50 and result["methods"][PAIRED_T]["feasible"] == 1.0


def test_old_paired_t_leaves_the_range_and_old_overall_trusts_tiny_tasks() -> None:
    result = evaluate(Setting("task", "binary", 0.0, (3,)), REPS)
    assert result["methods"][PAIRED_T]["out_of_range"] > 0
    overall = evaluate(Setting("overall", "constant", -MARGIN, (3, 10), (0.7, 0.3)), 30)
    assert overall["methods"][WEIGHTED_NORMAL]["zero_width"] == 30
    assert overall["methods"][SHIPPED]["too_few"] == 1.0


def test_sign_flip_reference_is_hartigans_interval() -> None:
    d = np.array([[-0.3, 0.1, 0.2, 0.5, -0.1, 0.4]])
    low, high = sign_flip(d)  # 2^6 = 64 patterns, k = floor(1.6) = 1: the smallest and largest subset means
    assert (low[0], high[0]) == (d.min(), d.max())
    low, high = sign_flip(d[:, :5])  # 32 patterns: no p-value reaches 2.5%, nothing is rejected
    assert (low[0], high[0]) == (-1.0, 1.0)
    # Symmetry is its assumption: 20 docs that are mostly ties and rare losses give [0, 0] a third of the time.
    result = evaluate(Setting("task", "binary-one-sided", -MARGIN, (20,)), REPS)
    assert result["methods"][SIGN_FLIP]["feasible"] > 0.2
