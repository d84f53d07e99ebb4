"""Agreement between a judge and a team's labels: the confusion table, raw agreement and Cohen's kappa
(agreement corrected for what two raters with these label frequencies would reach by chance)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    n: int
    agreement: float | None
    kappa: float | None  # None when chance agreement is 1 (one label only): kappa is undefined
    confusion: dict[str, dict[str, int]]  # label -> judge's verdict -> count


def agreement(labels: Sequence[str], verdicts: Sequence[str]) -> Agreement:
    pairs = list(zip(labels, verdicts, strict=True))
    n = len(pairs)
    categories = sorted(set(labels) | set(verdicts))
    confusion = {a: {b: sum(1 for x, y in pairs if (x, y) == (a, b)) for b in categories} for a in categories}
    if not n:
        return Agreement(0, None, None, confusion)
    observed = sum(1 for x, y in pairs if x == y) / n
    left, right = Counter(labels), Counter(verdicts)
    chance = sum(left[c] * right[c] for c in categories) / (n * n)
    kappa = None if chance == 1 else (observed - chance) / (1 - chance)
    return Agreement(n, observed, kappa, confusion)
