"""The exact paired test (harness.analysis.betting) on its own: the cases a review depends on, and
properties that must hold on any data (the simulation of coverage and error rates is
bench/calibration.py, gated in tests/test_calibration.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis import betting


def _datasets(seed: int = 5, count: int = 60) -> list[np.ndarray]:
    """Assorted doc differences in [-1, 1]: 0/1 pairs, continuous, piled at the ends, constant, lopsided."""
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        n = int(rng.choice([1, 2, 4, 6, 9, 15, 40, 120]))
        kind = i % 5
        if kind == 0:
            d = rng.choice([-1.0, 0.0, 1.0], n, p=[0.2, 0.65, 0.15])
        elif kind == 1:
            d = np.clip(rng.normal(rng.uniform(-0.3, 0.2), 0.25, n), -1, 1)
        elif kind == 2:
            d = rng.choice([-1.0, -0.4, 0.0, 0.6, 1.0], n)
        elif kind == 3:
            d = np.full(n, float(rng.choice([-0.2, -0.05, 0.0, 0.1])))
        else:
            d = np.where(rng.uniform(size=n) < 0.1, -1.0, 0.0)
        found.append(d)
    return found


@pytest.mark.parametrize(("diffs", "verdict"), [
    ([0.0] * 80, "feasible"),  # 80 identical answers: not 5 points worse, at 95%
    ([0.0] * 72, "inconclusive"),  # 0.95^72 = 0.025: the least favourable case still explains 72
    ([-1.0] * 4, "too few documents"),  # 4 docs, however lopsided
    ([1.0] * 5, "too few documents"),
    ([-1.0] * 40, "infeasible"),
    ([-1.0] * 6, "infeasible"),  # 6 docs all lost: the fewest that can decide at 95%
])
def test_the_cases_a_review_depends_on(diffs: list[float], verdict: str) -> None:
    result = betting.paired_test(diffs, 0.05)
    assert result.verdict == verdict, result
    assert result.min_n == 6


def test_verdicts_never_contradict_their_p_values_and_intervals_stay_in_range() -> None:
    for d in _datasets():
        r = betting.paired_test(d, 0.05, needed=False)
        assert r.ci_low is not None and r.ci_high is not None and r.p_value is not None
        assert -1.0 <= r.ci_low <= r.ci_high <= 1.0
        assert r.ci_low < r.ci_high  # never zero width, whatever the variance
        assert r.ci_low <= float(np.mean(d)) <= r.ci_high
        assert (r.verdict == "feasible") == (r.ci_low > -0.05) == (r.p_noninferior <= 0.025)
        assert (r.verdict == "infeasible") == (r.ci_high < -0.05) == (r.p_inferior <= 0.025)
        assert (r.p_value <= 0.05) == (not r.ci_low <= 0.0 <= r.ci_high)
        if len(d) < 6:
            assert r.verdict == "too few documents"


def test_the_same_data_give_the_same_answer() -> None:
    d = _datasets(seed=9, count=1)[0]
    assert betting.paired_test(d, 0.05) == betting.paired_test(list(d), 0.05)


def test_documents_needed_come_from_the_same_test() -> None:
    rng = np.random.default_rng(2)
    d = np.clip(rng.normal(0.02, 0.3, 30), -1, 1)
    r = betting.paired_test(d, 0.05)
    assert r.verdict == "inconclusive" and r.samples_needed is not None and r.samples_needed > 30
    more = betting.paired_test(np.resize(d, r.samples_needed), 0.05, needed=False)
    assert more.verdict == "feasible"
    # Two docs: never "2 docs to decide"; at least what any verdict needs.
    two = betting.paired_test([-0.6, -0.9], 0.05)
    assert two.verdict == "too few documents" and two.samples_needed is not None and two.samples_needed >= two.min_n
    # A gap sitting on the margin never decides.
    assert betting.paired_test([-0.05] * 50, 0.05).samples_needed is None


def test_overall_is_never_more_confident_than_its_tasks() -> None:
    sets = _datasets(seed=13, count=40)
    rng = np.random.default_rng(4)
    for start in range(0, len(sets) - 3, 3):
        tasks = [(d, float(w)) for d, w in zip(sets[start:start + 3], rng.uniform(0.1, 1.0, 3), strict=True)]
        overall = betting.overall_test(tasks, 0.05, needed=False)
        parts = [betting.paired_test(d, 0.05, needed=False) for d, _ in tasks]
        assert -1.0 <= overall.ci_low <= overall.ci_high <= 1.0  # type: ignore[operator]
        if overall.verdict == "feasible":
            assert any(p.verdict == "feasible" for p in parts)
        if overall.verdict == "infeasible":
            assert any(p.verdict == "infeasible" for p in parts)
        assert (overall.verdict == "feasible") == (overall.p_noninferior <= 0.025)  # type: ignore[operator]
        assert (overall.verdict == "infeasible") == (overall.p_inferior <= 0.025)  # type: ignore[operator]
        total = sum(w for _, w in tasks)
        weighted = sum(w * float(np.mean(d)) for d, w in tasks) / total
        assert math.isclose(overall.gap, weighted)  # type: ignore[arg-type]


def test_one_task_overall_is_that_task() -> None:
    d = _datasets(seed=21, count=1)[0]
    assert betting.overall_test([(d, 0.3)], 0.05) == betting.paired_test(d, 0.05)


def test_five_docs_over_two_tasks_decide_nothing() -> None:
    overall = betting.overall_test([([-0.6, -0.9], 0.4), ([-1.0, -1.0, -0.5], 0.6)], 0.05)
    assert overall.verdict == "too few documents" and overall.min_n is not None and overall.min_n > 3
