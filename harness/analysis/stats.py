"""Descriptive extras beside the exact comparison (harness.analysis.betting): Wilson intervals for each
side's mean, Holm's adjustment across tasks, and a seeded paired bootstrap for retained quality
(approximate; no verdict uses it). docs/statistics.md says which number comes from where.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for one proportion (Wilson 1927); None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's (1979) step-down adjustment of a family of p-values; None entries stay None."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Bootstrap:
    gap_ci: tuple[float, float]
    retained_ci: tuple[float, float] | None
    iterations: int
    seed: int


def paired_bootstrap(
    baseline: Sequence[float], candidate: Sequence[float], iterations: int = 2000, seed: int = 1234
) -> Bootstrap | None:
    """Percentile intervals for the mean gap and for retained quality (candidate mean / baseline mean),
    resampling docs as pairs. Seeded, so a report is reproducible."""
    b, c = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    if len(b) == 0 or len(b) != len(c):
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(b), size=(iterations, len(b)))
    b_means, c_means = b[picks].mean(axis=1), c[picks].mean(axis=1)
    gap = c_means - b_means
    gap_ci = (float(np.quantile(gap, 0.025)), float(np.quantile(gap, 0.975)))
    retained_ci = None
    if np.all(b_means > 0):
        ratio = c_means / b_means
        retained_ci = (float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975)))
    return Bootstrap(gap_ci=gap_ci, retained_ci=retained_ci, iterations=iterations, seed=seed)


def stratified_retained(
    tasks: Sequence[tuple[Sequence[float], Sequence[float], float]], iterations: int = 2000, seed: int = 1234
) -> tuple[float, float] | None:
    """Percentile interval for weighted overall retained quality: docs resampled as pairs within each
    task (tasks are strata), task means combined with the suite weights."""
    rng = np.random.default_rng(seed)
    b_total, c_total = np.zeros(iterations), np.zeros(iterations)
    for baseline, candidate, weight in tasks:
        b, c = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
        if len(b) == 0:
            continue
        picks = rng.integers(0, len(b), size=(iterations, len(b)))
        b_total += weight * b[picks].mean(axis=1)
        c_total += weight * c[picks].mean(axis=1)
    if not np.all(b_total > 0):
        return None
    ratio = c_total / b_total
    return float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975))
