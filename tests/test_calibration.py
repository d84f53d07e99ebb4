"""Calibration by simulation, through the real SQL: the 95% CI covers the true gap 93-97% of the time,
and a candidate exactly at the margin is declared feasible at most 5% of the time."""

from __future__ import annotations

import pytest

from bench.calibration import EXTREME, GATED, MARGIN, Setting, evaluate

REPS = 2000


def _name(setting: Setting) -> str:
    return f"{setting.kind}-n{setting.n}-{setting.baseline}-{setting.candidate}-rho{setting.rho}"


@pytest.mark.parametrize("setting", GATED, ids=_name)
def test_interval_covers_the_true_gap(setting: Setting) -> None:
    result = evaluate(setting, REPS, seed=GATED.index(setting) + 1)
    assert result["reps"] == REPS
    assert 0.93 <= result["coverage"] <= 0.97, result
    if setting.true_gap == pytest.approx(-MARGIN):
        assert result["feasible"] <= 0.05, result


@pytest.mark.parametrize("setting", EXTREME, ids=_name)
def test_few_discordant_pairs_err_on_the_safe_side(setting: Setting) -> None:
    # About three discordant pairs expected: the interval is discrete and conservative, never anti-conservative.
    result = evaluate(setting, REPS, seed=100 + EXTREME.index(setting))
    assert result["coverage"] >= 0.93, result
