"""Exact paired comparison for bounded scores at any sample size: confidence intervals by betting.

Every score the harness compares lies in a known range (0/1, similarity and agreement in [0, 1],
judged preference in [-1, 1]), so each doc's paired difference `d = candidate - baseline` lies in a
known range too. For the mean of a bounded variable, Waudby-Smith & Ramdas (2024, "Estimating means
of bounded random variables by betting", JRSS-B 86(1)) build intervals that hold at every n and
for every distribution on the range: no normal approximation, no symmetry assumption, no variance
to estimate. For each candidate mean `m`, a bettor who wagers that the mean is above (or below) `m`
compounds capital doc by doc; under the null hypothesis "the mean is m" that capital is a
nonnegative martingale, so by Ville's inequality it exceeds 1/a with probability at most a. The
interval is every m whose capital stayed below 2/alpha on both sides (alpha/2 per side).

What that buys here:
- Zero variance is evidence, not a degenerate case: 80 identical answers (every d = 0) compound to
  more than 40 times the stake at m = -0.05, so "not 5 points worse" holds; 4 documents, however
  lopsided, cannot compound to 40 at any m, so no verdict is possible ("too few documents").
- Intervals never leave the range, and a verdict never contradicts the p-values printed beside it:
  both come from the same capital (p = 1 / capital, Markov's inequality; a valid, conservative p).
- Bets follow the paper's predictable plug-in (eq. 26, fixed-n form) with truncation `TRUNCATION`.
  A bet depends on the order of the docs: the capital is averaged over `ORDERS` seeded orders (an
  average of e-values is an e-value), so the result is reproducible and does not hinge on doc ids.

The weighted OVERALL combines per-task intervals at level alpha/T (Bonferroni): valid whatever the
tasks' sizes or dependence, inside the range, and never more confident than its parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Diffs = Sequence[float] | np.ndarray  # one task's doc differences, in doc order
ALPHA = 0.05
TRUNCATION = 0.95  # largest share of the capital a bet may risk (the paper's c; 1/2 or 3/4 there)
ORDERS = 8  # seeded doc orders whose capitals are averaged
SEED = 20240101
_BISECT_STEPS = 34  # the interval's ends to ~1e-10 of the range
P_FLOOR = 1e-16  # p-values of combined intervals are reported down to this ("< 1e-16" below it)
_MAX_NEEDED = 1_000_000  # samples-needed search stops here ("more than a million")


@dataclass(frozen=True)
class GapTest:
    """One paired comparison against a margin. `verdict` is 'feasible' (the candidate is at most
    `margin` worse), 'infeasible' (more than `margin` worse), 'inconclusive', or 'too few documents'
    (no data of this size could decide; `min_n` says how many docs could)."""

    n: int
    gap: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # two-sided, H0: gap = 0
    p_noninferior: float | None  # one-sided, H0: gap <= -margin; feasible iff <= alpha/2
    p_inferior: float | None  # one-sided, H0: gap >= -margin; infeasible iff <= alpha/2
    verdict: str
    min_n: int | None  # the fewest docs with which some verdict is reachable at all
    samples_needed: int | None  # docs needed for a verdict if more docs looked like these
    method: str


class _Bets:
    """Capital processes for the doc differences `d` (in [lo, hi]) under every candidate mean."""

    def __init__(self, diffs: Diffs, lo: float, hi: float, alpha: float, orders: int = ORDERS):
        d = np.clip(np.asarray(diffs, dtype=float), lo, hi)
        self.lo, self.hi, self.n = lo, hi, len(d)
        self.threshold = 2.0 / alpha  # one side of a two-sided interval at level alpha
        x = (d - lo) / (hi - lo)
        rng = np.random.default_rng(SEED)
        self.x = np.stack([x] + [x[rng.permutation(len(x))] for _ in range(orders - 1)]) if len(x) else x[None, :]
        self.bets = _plug_in_bets(self.x, alpha)

    def _unit(self, m: float) -> float:
        return (m - self.lo) / (self.hi - self.lo)

    def up(self, m: float) -> float:
        """Capital of betting that the mean is above m (large: the mean is not at or below m)."""
        u = self._unit(m)
        if u <= 0:
            return math.inf if np.any(self.x > 0) else 1.0
        if u >= 1:
            return 0.0 if self.n else 1.0
        lam = np.minimum(self.bets, TRUNCATION / u)
        return _mean_exp(np.sum(np.log1p(lam * (self.x - u)), axis=1))

    def down(self, m: float) -> float:
        """Capital of betting that the mean is below m."""
        u = self._unit(m)
        if u >= 1:
            return math.inf if np.any(self.x < 1) else 1.0
        if u <= 0:
            return 0.0 if self.n else 1.0
        lam = np.minimum(self.bets, TRUNCATION / (1 - u))
        return _mean_exp(np.sum(np.log1p(-lam * (self.x - u)), axis=1))

    def interval(self, threshold: float | None = None) -> tuple[float, float]:
        """Every mean whose capital stays below `threshold` on both sides (capital is monotone in m)."""
        t = self.threshold if threshold is None else threshold
        low = self.lo if self.up(self.lo) < t else _bisect(lambda m: self.up(m) >= t, self.lo, self.hi)
        high = self.hi if self.down(self.hi) < t else _bisect(lambda m: self.down(m) < t, self.lo, self.hi)
        snap = 1e-9 * (self.hi - self.lo)  # ends within bisection precision of the range are the range
        low = self.lo if low - self.lo < snap else low
        high = self.hi if self.hi - high < snap else high
        return low, max(low, high)


def _mean_exp(logs: np.ndarray) -> float:
    """The mean capital over orders from log-capitals, without overflow (a capital past e^700 is inf)."""
    top = float(np.max(logs))
    if top > 700:
        return math.inf
    return float(math.exp(top) * np.mean(np.exp(logs - top)))


def _plug_in_bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """Predictable plug-in bets: lambda_t = sqrt(2 log(2/alpha) / (n sigma^2_{t-1})), where sigma^2_{t-1}
    is a regularised running variance of the docs seen before t (so each bet is fixed before its doc)."""
    n = x.shape[1]
    if n == 0:
        return np.zeros_like(x)
    t = np.arange(1, n + 1)
    mu = (0.5 + np.cumsum(x, axis=1)) / (t + 1)
    sq = (0.25 + np.cumsum((x - mu) ** 2, axis=1)) / (t + 1)
    prior = np.concatenate([np.full((x.shape[0], 1), 0.25), sq[:, :-1]], axis=1)
    return np.asarray(np.sqrt(2 * math.log(2 / alpha) / (n * prior)))


def _bisect(is_left: object, lo: float, hi: float) -> float:
    """The boundary of a monotone predicate: True left of it, False right of it."""
    assert callable(is_left)
    a, b = lo, hi
    for _ in range(_BISECT_STEPS):
        mid = (a + b) / 2
        if is_left(mid):
            a = mid
        else:
            b = mid
    return (a + b) / 2


def _p(capital: float, sides: int = 1) -> float:
    return 1.0 if capital <= 0 else min(1.0, sides / capital)


def min_docs(margin: float, lo: float = -1.0, hi: float = 1.0, alpha: float = ALPHA, limit: int = 10_000) -> int | None:
    """The fewest docs with which any verdict against `margin` is reachable: every doc at one end of the
    range (all won, or all lost). None beyond `limit`."""
    n = 1
    while n <= limit:
        best_up = _Bets([hi] * n, lo, hi, alpha, orders=1).up(-margin)
        best_down = _Bets([lo] * n, lo, hi, alpha, orders=1).down(-margin)
        if max(best_up, best_down) >= 2 / alpha:
            return n
        n = n + 1 if n < 64 else int(n * 1.25)
    return None


def paired_test(diffs: Diffs, margin: float, lo: float = -1.0, hi: float = 1.0,
                alpha: float = ALPHA, needed: bool = True) -> GapTest:
    """Gap, exact interval, p-values and verdict for one task's doc differences in [lo, hi]."""
    n = len(diffs)
    floor = min_docs(margin, lo, hi, alpha)
    if n == 0:
        return GapTest(0, None, None, None, None, None, None, "too few documents", floor, floor, "betting")
    bets = _Bets(diffs, lo, hi, alpha)
    low, high = bets.interval()
    p_ni, p_inf = _p(bets.up(-margin)), _p(bets.down(-margin))
    p_zero = min(1.0, 2 * min(_p(bets.up(0.0)), _p(bets.down(0.0))))
    verdict = _verdict(low, high, margin, floor is not None and n >= floor)
    undecided = verdict in ("inconclusive", "too few documents")
    more = None
    if undecided and needed:
        more = _needed(lambda f: _decides(diffs, math.ceil(f * n), margin, lo, hi, alpha), n)
    return GapTest(n, float(np.mean(diffs)), low, high, p_zero, p_ni, p_inf, verdict, floor, more, "betting")


def _verdict(low: float, high: float, margin: float, reachable: bool) -> str:
    if low > -margin:
        return "feasible"
    if high < -margin:
        return "infeasible"
    return "inconclusive" if reachable else "too few documents"


def _decides(diffs: Diffs, size: int, margin: float, lo: float, hi: float, alpha: float) -> bool:
    tiled = np.resize(np.asarray(diffs, dtype=float), size)
    bets = _Bets(tiled, lo, hi, alpha)
    return max(bets.up(-margin), bets.down(-margin)) >= bets.threshold


def _needed(decides: Callable[[float], bool], n: int) -> int | None:
    """Samples needed: the fewest docs at which the same test decides if further docs repeat the
    observed differences (the sample tiled, each task by the same factor f). None when even
    `_MAX_NEEDED` such docs would not decide (the observed gap sits at -margin)."""
    if n == 0:
        return None
    low, high = 1.0, 2.0
    while not decides(high):
        if high * n >= _MAX_NEEDED:
            return None
        low, high = high, high * 2
    for _ in range(30):
        if math.ceil(high * n) - math.ceil(low * n) <= 1:
            break
        mid = (low + high) / 2
        low, high = (low, mid) if decides(mid) else (mid, high)
    return math.ceil(high * n)


def overall_test(tasks: Sequence[tuple[Diffs, float]], margin: float, lo: float = -1.0, hi: float = 1.0,
                 alpha: float = ALPHA, needed: bool = True) -> GapTest:
    """The weighted OVERALL of several tasks (doc differences, weight): the weighted mean of per-task
    gaps, with the weighted sum of per-task intervals each at level alpha/T (Bonferroni over the T
    tasks with data). The interval covers the traffic-weighted gap whatever the tasks' sizes and
    dependence; p-values are the smallest level at which the combined interval excludes the value."""
    kept = [(np.asarray(d, dtype=float), w) for d, w in tasks if len(d) and w > 0]
    if len(kept) <= 1:
        return paired_test(kept[0][0] if kept else [], margin, lo, hi, alpha, needed)
    total = sum(w for _, w in kept)
    weights = [w / total for _, w in kept]
    bounds = _weighted_bounds([d for d, _ in kept], weights, lo, hi, alpha)
    low, high = bounds(alpha)
    floor = _overall_floor([len(d) for d, _ in kept], weights, margin, lo, hi, alpha)
    n = sum(len(d) for d, _ in kept)
    verdict = _verdict(low, high, margin, floor == 1)
    gap = sum(w * float(np.mean(d)) for w, (d, _) in zip(weights, kept, strict=True))
    p_ni = _one_sided(_smallest_level(lambda a: bounds(a)[0] > -margin, alpha))
    p_inf = _one_sided(_smallest_level(lambda a: bounds(a)[1] < -margin, alpha))
    p_zero = _smallest_level(lambda a: not bounds(a)[0] <= 0.0 <= bounds(a)[1], alpha)
    more = None
    if needed and verdict in ("inconclusive", "too few documents"):
        def decides(f: float) -> bool:
            tiled = [np.resize(d, math.ceil(f * len(d))) for d, _ in kept]
            t_low, t_high = _weighted_bounds(tiled, weights, lo, hi, alpha)(alpha)
            return t_low > -margin or t_high < -margin
        more = _needed(decides, n)
    return GapTest(n, gap, low, high, p_zero, p_ni, p_inf, verdict, floor, more, f"betting, bonferroni x{len(kept)}")


def _weighted_bounds(diffs: list[np.ndarray], weights: list[float], lo: float, hi: float,
                     alpha: float) -> Callable[[float], tuple[float, float]]:
    """level -> the weighted sum of the tasks' interval ends at level/T (bets fixed at alpha/T, so the
    ends move monotonically with the level)."""
    k = len(diffs)
    bets = [_Bets(d, lo, hi, alpha / k) for d in diffs]

    def bounds(level: float) -> tuple[float, float]:
        ends = [b.interval(2 * k / level) for b in bets]
        low = sum(w * e[0] for w, e in zip(weights, ends, strict=True))
        return low, sum(w * e[1] for w, e in zip(weights, ends, strict=True))
    return bounds


def _one_sided(level: float) -> float:
    return 1.0 if level >= 1.0 else level / 2


def _overall_floor(sizes: list[int], weights: list[float], margin: float, lo: float, hi: float,
                   alpha: float) -> int | None:
    """The fewest docs per task (every task brought up to at least this many) with which some overall
    verdict is reachable: every doc of every task at the same end of the range. 1 means the tasks as
    they are could reach one."""
    k = len(sizes)
    for floor in [*range(1, 64), *(int(64 * 1.25 ** i) for i in range(1, 30))]:
        ends = []
        for value, side in ((hi, 0), (lo, 1)):
            parts = [_Bets([value] * max(s, floor), lo, hi, alpha / k, orders=1).interval()[side] for s in sizes]
            ends.append(sum(w * p for w, p in zip(weights, parts, strict=True)))
        if ends[0] > -margin or ends[1] < -margin:
            return floor
    return None


def _smallest_level(rejects: Callable[[float], bool], alpha: float) -> float:
    """The smallest level in (0, 1] at which `rejects` holds (monotone: holds at every larger level), found
    on the rejecting side, so that `rejects(alpha)` and the returned level <= alpha always agree."""
    if not rejects(1.0):
        return 1.0
    low, high = P_FLOOR, 1.0
    if rejects(P_FLOOR):
        return P_FLOOR
    if rejects(alpha):
        high = alpha
    else:
        low = alpha
    for _ in range(32):
        mid = math.sqrt(low * high)
        if rejects(mid):
            high = mid
        else:
            low = mid
    return high
