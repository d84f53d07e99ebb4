"""The simulated comparisons of bench/calibration.py: the margin and level under test, the grid of settings
(shape x n x true gap; for the OVERALL, weighted mixes of tasks of unequal n) and the score shapes, each built
so that E[candidate - baseline] is exactly the gap."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

MARGIN = 0.05
ALPHA = 0.05
GAPS = (0.0, -MARGIN, -3 * MARGIN)
SIZES = (3, 5, 10, 20, 50, 200)
MIXES: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((3, 10), (0.7, 0.3)),
    ((5, 20, 50), (0.5, 0.3, 0.2)),
    ((10, 20, 50, 200), (0.1, 0.2, 0.3, 0.4)),
    ((50, 200), (0.5, 0.5)),
)
SEED = 20260517


# ---- score shapes: (rng, reps, n, gap) -> baseline, candidate scores, each (reps, n) in [0, 1] -------------

ACCURACY = 0.6  # binary baseline accuracy
DISCORDANT = 0.25  # binary: share of docs where exactly one side is right, at every gap
PILE, RHO = 0.3, 0.8  # piled: mass at 0 and at 1 per side; latent correlation across sides


def _binary(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Correctness cells (1,1), (1,0), (0,1), (0,0); (0,1) - (1,0) = gap, so candidate accuracy = 0.6 + gap."""
    b_only, c_only = (DISCORDANT - gap) / 2, (DISCORDANT + gap) / 2
    both = ACCURACY - b_only
    cell = rng.choice(4, size=(reps, n), p=[both, b_only, c_only, 1 - both - b_only - c_only])
    return np.isin(cell, (0, 1)).astype(float), np.isin(cell, (0, 2)).astype(float)


def _binary_one_sided(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """A doc is lost (baseline 1, candidate 0) with probability |gap|; otherwise both give the same 0/1."""
    same = (rng.random((reps, n)) < ACCURACY).astype(float)
    lost = rng.random((reps, n)) < -gap
    return np.where(lost, 1.0, same), np.where(lost, 0.0, same)


def _smooth(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """A shared difficulty ~ Beta(2, 2) mixed with each side's own Beta (a + b = 4): E = 0.3 + 0.4 * own mean."""
    difficulty = rng.beta(2, 2, size=(reps, n))
    sides = []
    for mean in (ACCURACY, ACCURACY + gap):
        own = (mean - 0.3) / 0.4
        sides.append(0.6 * difficulty + 0.4 * rng.beta(4 * own, 4 * (1 - own), size=(reps, n)))
    return sides[0], sides[1]


def _piled(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Each side: 0 with prob p0, 1 with prob p1, else Beta(2, 2), through the quantile function of a Gaussian
    copula with correlation RHO (a shared per-doc latent). Mean = p1 + (1 - p0 - p1) / 2; the baseline has
    p0 = p1 = 0.3 (mean 0.5), the candidate moves mass from 1 to 0 by |gap| (mean 0.5 + gap)."""
    shared = rng.standard_normal((reps, n))
    sides = []
    for shift in (0.0, -gap):
        p0, p1 = PILE + shift, PILE - shift
        u = special.ndtr(RHO * shared + math.sqrt(1 - RHO**2) * rng.standard_normal((reps, n)))
        middle = special.betaincinv(2.0, 2.0, np.clip((u - p0) / (1 - p0 - p1), 0.0, 1.0))
        sides.append(np.where(u < p0, 0.0, np.where(u > 1 - p1, 1.0, middle)))
    return sides[0], sides[1]


def _constant(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Every doc's difference is the gap: zero variance."""
    baseline = np.full((reps, n), 0.7)
    return baseline, baseline + gap


def _identical(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """The candidate answers exactly as the baseline (continuous scores)."""
    baseline = rng.beta(2, 2, size=(reps, n))
    return baseline, baseline.copy()


def _rare_partial(rng: np.random.Generator, reps: int, n: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Mostly identical; with probability 2|gap| a doc loses 0.5 points (baseline in [0.5, 1])."""
    baseline = 0.5 + 0.5 * rng.beta(2, 2, size=(reps, n))
    lost = rng.random((reps, n)) < -2 * gap
    return baseline, np.where(lost, baseline - 0.5, baseline)


@dataclass(frozen=True)
class Shape:
    draw: Callable[[np.random.Generator, int, int, float], tuple[np.ndarray, np.ndarray]]
    binary: bool  # 0/1 scores: Agresti-Min applies
    gaps: tuple[float, ...] = GAPS

    @staticmethod
    def truth(gap: float) -> float:
        """Every shape is built so that E[candidate - baseline] is exactly the gap (checked by test_truths)."""
        return gap


SHAPES: dict[str, Shape] = {
    "binary": Shape(_binary, True),
    "binary-one-sided": Shape(_binary_one_sided, True),
    "smooth": Shape(_smooth, False),
    "piled": Shape(_piled, False),
    "constant": Shape(_constant, False),
    "identical": Shape(_identical, False, (0.0,)),
    "rare-partial": Shape(_rare_partial, False),
}


@dataclass(frozen=True)
class Setting:
    """One calibration cell: `level` 'task' (one task of sizes[0] docs) or 'overall' (tasks of `sizes` docs
    with `weights`), every task drawn from `shape` with true mean gap `gap`."""

    level: str
    shape: str
    gap: float
    sizes: tuple[int, ...]
    weights: tuple[float, ...] = (1.0,)

    @property
    def truth(self) -> float:
        return SHAPES[self.shape].truth(self.gap)

    @property
    def name(self) -> str:
        n = self.sizes[0] if self.level == "task" else "+".join(map(str, self.sizes))
        return f"{self.level}/{self.shape}/n={n}/gap={self.gap:+.2f}"

    @property
    def seed(self) -> int:
        """Stable across runs and processes (no hash()): derived from the setting's indices."""
        entropy = [SEED, ("task", "overall").index(self.level), list(SHAPES).index(self.shape),
                   _gap_index(self.gap), *self.sizes]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _gap_index(gap: float) -> int:
    return min(range(len(GAPS)), key=lambda i: abs(GAPS[i] - gap))


def task_settings() -> list[Setting]:
    return [Setting("task", shape, gap, (n,)) for shape, s in SHAPES.items() for n in SIZES for gap in s.gaps]


def overall_settings() -> list[Setting]:
    return [Setting("overall", shape, gap, sizes, weights)
            for shape, s in SHAPES.items() for sizes, weights in MIXES for gap in s.gaps]


def draw(setting: Setting, reps: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(baseline, candidate) scores, each (reps, n_task), per task of the setting."""
    return [SHAPES[setting.shape].draw(rng, reps, n, setting.gap) for n in setting.sizes]
