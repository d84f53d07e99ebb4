"""Calibration of the comparison statistics by simulation: providers with known true scores.

Each setting draws `reps` paired comparisons of `n` docs, stores them (one task per comparison),
and runs the real `migration()` SQL macro over them. Reported per setting: how often the 95% CI
covers the true gap, and how often "feasible" is declared when the true gap is exactly -margin.
Run: .venv/bin/python -m bench.calibration   (writes bench/results/calibration.json)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.synthetic import add_comparison, open_store

OUT = Path(__file__).parent / "results" / "calibration.json"
MARGIN = 0.05


@dataclass(frozen=True)
class Setting:
    """Binary: accuracies and the correlation of the two providers' correctness on a doc.
    Continuous: scores in [0, 1] from Beta draws sharing a per-doc difficulty."""

    kind: str  # "binary" or "continuous"
    n: int
    baseline: float
    candidate: float
    rho: float = 0.0

    @property
    def true_gap(self) -> float:
        return self.candidate - self.baseline


def draw(setting: Setting, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if setting.kind == "binary":
        pb, pc = setting.baseline, setting.candidate
        both = pb * pc + setting.rho * math.sqrt(pb * (1 - pb) * pc * (1 - pc))
        cells = [both, pb - both, pc - both, 1 - pb - pc + both]  # (1,1), (1,0), (0,1), (0,0)
        outcome = rng.choice(4, size=(reps, setting.n), p=cells)
        return np.isin(outcome, (0, 1)).astype(float), np.isin(outcome, (0, 2)).astype(float)
    # Continuous: a doc's difficulty d ~ Beta(2, 2) is shared; each side mixes it with its own noise,
    # so E[score] = 0.6 * 0.5 + 0.4 * mean of the side's Beta, set to hit the target means.
    difficulty = rng.beta(2, 2, size=(reps, setting.n))
    sides = []
    for mean in (setting.baseline, setting.candidate):
        own = (mean - 0.3) / 0.4  # mean of the side's Beta(a, b) with a + b = 4
        sides.append(0.6 * difficulty + 0.4 * rng.beta(4 * own, 4 * (1 - own), size=(reps, setting.n)))
    return sides[0], sides[1]


def evaluate(setting: Setting, reps: int, seed: int) -> dict:
    """Coverage of the true gap and the share of each verdict, from the SQL macro's output."""
    rng = np.random.default_rng(seed)
    baseline, candidate = draw(setting, reps, rng)
    con = open_store()
    add_comparison(con, baseline, candidate)
    rows = con.execute(
        "select ci_low, ci_high, verdict from migration('B', 'C', margin := ?) where task <> 'OVERALL'", [MARGIN]
    ).fetchall()
    con.close()
    low, high = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    verdicts = [r[2] for r in rows]
    gap = setting.true_gap
    return {
        **asdict(setting), "reps": len(rows), "true_gap": gap,
        "coverage": float(np.mean((low <= gap + 1e-12) & (gap - 1e-12 <= high))),
        "feasible": verdicts.count("feasible") / len(rows), "infeasible": verdicts.count("infeasible") / len(rows),
    }


# Gated settings: accuracies and correlations typical of two LLMs on one benchmark, plus a true gap of
# exactly -MARGIN for the false-"feasible" rate. EXTREME: few expected discordant pairs at n = 30,
# where any interval for paired proportions is discrete; reported, held only to "not anti-conservative".
GATED = [
    Setting(kind, n, b, c, rho)
    for n in (30, 100, 1000)
    for kind, b, c, rho in (
        ("binary", 0.5, 0.5, 0.3), ("binary", 0.8, 0.7, 0.4), ("binary", 0.6, 0.55, 0.5),
        ("binary", 0.3, 0.25, 0.4), ("continuous", 0.6, 0.55, 0.0), ("continuous", 0.5, 0.45, 0.0),
    )
]
EXTREME = [Setting("binary", 30, 0.85, 0.8, 0.7), Setting("binary", 30, 0.9, 0.85, 0.5),
           Setting("binary", 30, 0.7, 0.7, 0.6)]


def main(reps: int = 4000) -> None:
    started = time.perf_counter()
    results = []
    for i, setting in enumerate(GATED + EXTREME):
        row = {**evaluate(setting, reps, seed=1000 + i), "gated": setting in GATED}
        results.append(row)
        print(f"{row['kind']:<10} n={row['n']:<5} {row['baseline']:.2f}->{row['candidate']:.2f} rho={row['rho']:.1f}"
              f"  coverage {row['coverage']:.3f}  feasible {row['feasible']:.3f}"
              f"{'' if row['gated'] else '  (extreme, not gated)'}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"bench": "calibration", "margin": MARGIN, "reps": reps,
                               "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                               "seconds": round(time.perf_counter() - started, 1), "settings": results}, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
