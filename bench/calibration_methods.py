"""The methods bench/calibration.py compares on the same draws: the shipped `betting`, the old paired t,
Agresti-Min and weighted-normal OVERALL it replaced, and the sign-flip (Hartigan) interval as a reference."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from bench.calibration_shapes import ALPHA, MARGIN, SEED
from harness.analysis.betting import overall_test, paired_test

SHIPPED = "betting"
PAIRED_T, AGRESTI_MIN, WEIGHTED_NORMAL, SIGN_FLIP = (
    "paired-t (old)", "agresti-min (old)", "weighted-normal (old)", "sign-flip (reference)")
Z975 = 1.959963984540054
SIGN_FLIP_EXACT_MAX = 12
SIGN_FLIP_PATTERNS = 4999


# ---- methods: interval ends (and verdicts) as arrays over the reps, one dataset per row --------------------

def verdicts(low: np.ndarray, high: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    return np.where(low > -margin, "feasible", np.where(high < -margin, "infeasible", "inconclusive"))


def betting(tasks: Sequence[np.ndarray], weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The shipped method, one call per dataset: paired_test for one task, overall_test for several. Also
    counts datasets whose one-sided p-values disagree with the verdict (feasible iff p_noninferior <= alpha/2,
    infeasible iff p_inferior <= alpha/2): the module promises none."""
    reps = tasks[0].shape[0]
    out, mismatches = [], 0
    for r in range(reps):
        if len(tasks) == 1:
            g = paired_test(tasks[0][r], MARGIN, alpha=ALPHA, needed=False)
        else:
            parts = [(d[r], w) for d, w in zip(tasks, weights, strict=True)]
            g = overall_test(parts, MARGIN, alpha=ALPHA, needed=False)
        out.append((g.ci_low, g.ci_high, g.verdict))
        mismatches += ((g.p_noninferior is not None and g.p_noninferior <= ALPHA / 2) != (g.verdict == "feasible")
                       or (g.p_inferior is not None and g.p_inferior <= ALPHA / 2) != (g.verdict == "infeasible"))
    low, high, verdict = zip(*out, strict=True)
    return np.array(low, dtype=float), np.array(high, dtype=float), np.array(verdict), int(mismatches)


def paired_t(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Old: mean +/- t(0.975, n-1) * sd / sqrt(n); also returns se. Zero width when every difference is equal."""
    n = d.shape[1]
    se = d.std(axis=1, ddof=1) / math.sqrt(n)
    q = stats.t.ppf(0.975, n - 1)
    mean = d.mean(axis=1)
    return mean - q * se, mean + q * se, se


def agresti_min(baseline: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Old, 0/1 scores: centre (c - b)/(n + 2), se sqrt(b + c + 1 - (c - b)^2/(n + 2))/(n + 2), clipped."""
    n = baseline.shape[1]
    b_only = np.sum((baseline == 1) & (candidate == 0), axis=1)
    c_only = np.sum((baseline == 0) & (candidate == 1), axis=1)
    centre = (c_only - b_only) / (n + 2.0)
    se = np.sqrt((b_only + c_only + 1.0) - (c_only - b_only) ** 2 / (n + 2.0)) / (n + 2.0)
    return np.maximum(-1.0, centre - Z975 * se), np.minimum(1.0, centre + Z975 * se), se


def weighted_normal(tasks: Sequence[tuple[np.ndarray, np.ndarray]],
                    weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Old OVERALL: weighted gap +/- 1.96 sqrt(sum w^2 se^2), each dataset's se from the method the old product
    picked for it (Agresti-Min when both sides' scores are all 0/1, paired t otherwise)."""
    total = sum(weights)
    gap = np.zeros(tasks[0][0].shape[0])
    var = np.zeros_like(gap)
    for (baseline, candidate), w in zip(tasks, weights, strict=True):
        is_binary = np.all(np.isin(baseline, (0.0, 1.0)) & np.isin(candidate, (0.0, 1.0)), axis=1)
        se = np.where(is_binary, agresti_min(baseline, candidate)[2], paired_t(candidate - baseline)[2])
        gap += w / total * (candidate - baseline).mean(axis=1)
        var += (w / total) ** 2 * se**2
    return gap - Z975 * np.sqrt(var), gap + Z975 * np.sqrt(var)


@functools.cache
def _subsets(n: int) -> tuple[np.ndarray, int]:
    """Nonempty subsets F (rows of 0/1) and the number of sign patterns N the p-value counts over: all 2^n
    (exact) for n <= SIGN_FLIP_EXACT_MAX, else the identity plus SIGN_FLIP_PATTERNS seeded random ones."""
    if n <= SIGN_FLIP_EXACT_MAX:
        codes = np.arange(1, 2**n)
        return ((codes[:, None] >> np.arange(n)) & 1).astype(float), 2**n
    rng = np.random.default_rng([SEED, n])
    rows = rng.random((SIGN_FLIP_PATTERNS, n)) < 0.5
    while not rows.any(axis=1).all():  # an empty subset is the identity, already counted
        empty = ~rows.any(axis=1)
        rows[empty] = rng.random((int(empty.sum()), n)) < 0.5
    return rows.astype(float), SIGN_FLIP_PATTERNS + 1


def sign_flip(d: np.ndarray, alpha: float = ALPHA, lo: float = -1.0, hi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sign-flip interval for the mean: every m not rejected, at alpha/2 per side, by the sign-flip test of
    sum(d - m). Flipping the signs of a subset F moves the sum below the observed one iff mean_F(d) <= m, so
    p_up(m) = (1 + #{F: mean_F <= m}) / N and the lower end is the k-th smallest subset mean (k = floor(N alpha/2)),
    the upper the k-th largest: Hartigan (1969). k = 0 (n <= 5 exact): nothing is rejected, the range is returned."""
    reps, n = d.shape
    subsets, patterns = _subsets(n)
    k = math.floor(alpha / 2 * patterns + 1e-9)
    if k == 0:
        return np.full(reps, lo), np.full(reps, hi)
    means = (d @ subsets.T) / subsets.sum(axis=1)
    low = np.partition(means, k - 1, axis=1)[:, k - 1]
    high = -np.partition(-means, k - 1, axis=1)[:, k - 1]
    return low, high
