"""Calibration of the paired comparison by simulation: does the shipped method keep its promises at any n?

Score generators with a known true mean gap draw `reps` paired datasets per setting (shape x n x true
gap; for the OVERALL, a mix of 2-4 weighted tasks of unequal n, all of one shape and one gap, so the
weighted truth is that gap). Every method runs on the same draws:

- `betting` (shipped): `harness.analysis.betting.paired_test` / `overall_test`.
- `paired-t (old)`: mean +/- t(0.975, n-1) * sd / sqrt(n), unclipped (old product: non-binary scores).
- `agresti-min (old)`: Agresti-Min interval for paired proportions, clipped to [-1, 1] (old product: 0/1
  scores; binary shapes only).
- `weighted-normal (old)`: the old OVERALL, weighted gap +/- 1.96 * sqrt(sum w^2 se^2), each task's se
  from its old method (Agresti-Min when the task's scores are all 0/1, paired t otherwise).
- `sign-flip (reference)`: the sign-flip permutation interval, i.e. Hartigan's subset-mean interval
  (exact over all 2^n sign patterns for n <= 12, 4999 seeded random patterns above); valid only for
  differences symmetric about their mean. OVERALL: per-task intervals at alpha/T, weighted (Bonferroni).

Reported per setting and method: coverage of the true gap, the share of each verdict (false "feasible"
at gap = -margin, false "infeasible" at gap = 0, decided = feasible at gap 0 / infeasible at -3 margin),
"too few documents", zero-width and out-of-range intervals. Gates, for `betting` at every setting:
coverage >= 0.93, false feasible <= 0.05, false infeasible <= 0.05, no interval outside [-1, 1].

Run: .venv/bin/python -m bench.calibration [--reps N] [--overall-reps N] [--quick]
     (writes bench/results/calibration.json and calibration.md; --quick writes nothing)

Parts: bench/calibration_shapes.py (margin, settings grid, score shapes and their truths) and
bench/calibration_methods.py (the shipped, old and reference methods).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.calibration_methods import (
    AGRESTI_MIN,
    PAIRED_T,
    SHIPPED,
    SIGN_FLIP,
    SIGN_FLIP_EXACT_MAX,
    SIGN_FLIP_PATTERNS,
    WEIGHTED_NORMAL,
    agresti_min,
    betting,
    paired_t,
    sign_flip,
    verdicts,
    weighted_normal,
)
from bench.calibration_shapes import (
    ALPHA,
    GAPS,
    MARGIN,
    MIXES,
    SHAPES,
    SIZES,
    Setting,
    draw,
    overall_settings,
    task_settings,
)

RESULTS = Path(__file__).parent / "results"
OUT = RESULTS / "calibration.json"
MD = RESULTS / "calibration.md"
# Timed on this 2-core machine (shared with other jobs): ~2-3 ms per task dataset (all methods), 30-300 ms per
# OVERALL dataset (overall_test's p-value searches are ~95% of it); 800/150 took 711 s under load, so 600/120.
REPS, OVERALL_REPS = 600, 120
QUICK_REPS, QUICK_OVERALL_REPS = 60, 20
TOL = 1e-9  # a bound within float error of the truth covers it (constant differences: 0.7 - 0.05 - 0.7)
COVERAGE_GATE, ERROR_GATE = 0.93, 0.05


# ---- one setting ------------------------------------------------------------------------------------------

def summarise(low: np.ndarray, high: np.ndarray, verdict: np.ndarray, truth: float) -> dict:
    """Coverage, verdict shares and interval pathologies, with each share's Monte Carlo standard error."""
    reps = len(low)
    covered = (low <= truth + TOL) & (truth - TOL <= high)
    figures = {
        "coverage": float(np.mean(covered)),
        "feasible": float(np.mean(verdict == "feasible")),
        "infeasible": float(np.mean(verdict == "infeasible")),
        "inconclusive": float(np.mean(verdict == "inconclusive")),
        "too_few": float(np.mean(verdict == "too few documents")),
    }
    return {
        **figures,
        "se": {k: round(math.sqrt(v * (1 - v) / reps), 5) for k, v in figures.items() if k != "inconclusive"},
        "out_of_range": int(np.sum((low < -1 - TOL) | (high > 1 + TOL) | ~np.isfinite(low) | ~np.isfinite(high))),
        "zero_width": int(np.sum(high - low <= TOL)),
        "mean_width": float(np.mean(high - low)),
    }


def _at(gap: float, target: float) -> bool:
    return math.isclose(gap, target, abs_tol=1e-12)


def gates(setting: Setting, shipped: dict) -> dict[str, bool]:
    """The must-show figures for the shipped method at this setting (a gate not applicable is left out)."""
    out = {"coverage": shipped["coverage"] >= COVERAGE_GATE, "in_range": shipped["out_of_range"] == 0}
    if _at(setting.gap, -MARGIN):
        out["false_feasible"] = shipped["feasible"] <= ERROR_GATE
    if _at(setting.gap, 0.0):
        out["false_infeasible"] = shipped["infeasible"] <= ERROR_GATE
    return out


def decided(setting: Setting, figures: dict) -> float | None:
    """Power (informational): 'feasible' at gap 0, 'infeasible' at gap -3 margin."""
    if _at(setting.gap, 0.0):
        return figures["feasible"]
    if _at(setting.gap, -3 * MARGIN):
        return figures["infeasible"]
    return None


def evaluate(setting: Setting, reps: int, seed: int | None = None) -> dict:
    """Every method on the same `reps` draws of `setting`; figures per method, and the shipped method's gates."""
    started = time.perf_counter()
    rng = np.random.default_rng(setting.seed if seed is None else seed)
    tasks = draw(setting, reps, rng)
    diffs = [candidate - baseline for baseline, candidate in tasks]
    truth = setting.truth
    methods: dict[str, dict] = {}
    low, high, verdict, mismatches = betting(diffs, setting.weights)
    methods[SHIPPED] = {**summarise(low, high, verdict, truth), "p_verdict_mismatch": mismatches}
    if setting.level == "task":
        d = diffs[0]
        low, high, _ = paired_t(d)
        methods[PAIRED_T] = summarise(low, high, verdicts(low, high), truth)
        if SHAPES[setting.shape].binary:
            low, high, _ = agresti_min(*tasks[0])
            methods[AGRESTI_MIN] = summarise(low, high, verdicts(low, high), truth)
        low, high = sign_flip(d)
    else:
        low, high = weighted_normal(tasks, setting.weights)
        methods[WEIGHTED_NORMAL] = summarise(low, high, verdicts(low, high), truth)
        total = sum(setting.weights)
        ends = [sign_flip(d, ALPHA / len(diffs)) for d in diffs]  # Bonferroni, as the shipped OVERALL
        low = sum(w / total * e[0] for w, e in zip(setting.weights, ends, strict=True))
        high = sum(w / total * e[1] for w, e in zip(setting.weights, ends, strict=True))
    methods[SIGN_FLIP] = summarise(low, high, verdicts(low, high), truth)
    for figures in methods.values():
        figures["decided"] = decided(setting, figures)
    return {
        "name": setting.name, "level": setting.level, "shape": setting.shape, "sizes": list(setting.sizes),
        "weights": list(setting.weights), "gap": setting.gap, "truth": truth, "reps": reps,
        "seed": setting.seed if seed is None else seed, "seconds": round(time.perf_counter() - started, 2),
        "gates": gates(setting, methods[SHIPPED]), "methods": methods,
    }


def _run(job: tuple[Setting, int]) -> dict:
    return evaluate(*job)


# ---- reporting --------------------------------------------------------------------------------------------

def line(row: dict) -> str:
    s = row["methods"][SHIPPED]
    ok = "PASS" if all(row["gates"].values()) else "FAIL " + ",".join(k for k, v in row["gates"].items() if not v)
    old = row["methods"].get(AGRESTI_MIN) or row["methods"].get(PAIRED_T) or row["methods"][WEIGHTED_NORMAL]
    return (f"{row['name']:<44} cov {s['coverage']:.3f} feas {s['feasible']:.3f} infeas {s['infeasible']:.3f}"
            f" few {s['too_few']:.2f} out {s['out_of_range']}  | old cov {old['coverage']:.3f}"
            f" feas {old['feasible']:.3f} zero-w {old['zero_width']:>4}  {ok}")


GATE_FIGURE = {"coverage": ("coverage", min), "false_feasible": ("feasible", max),
               "false_infeasible": ("infeasible", max), "in_range": ("out_of_range", max)}


def gate_summary(rows: list[dict]) -> dict[str, dict]:
    """Per gate: PASS/FAIL over every setting it applies to, and the worst setting's figures."""
    out = {}
    for gate, (figure, worst) in GATE_FIGURE.items():
        applicable = [r for r in rows if gate in r["gates"]]
        bad = worst(applicable, key=lambda r: r["methods"][SHIPPED][figure])
        out[gate] = {"pass": all(r["gates"][gate] for r in applicable), "settings": len(applicable),
                     "failing": [r["name"] for r in applicable if not r["gates"][gate]],
                     "worst": bad["name"], "worst_value": bad["methods"][SHIPPED][figure],
                     "worst_se": bad["methods"][SHIPPED]["se"].get(figure)}
    return out


def method_summary(rows: list[dict]) -> dict[str, dict]:
    """Every method held to the shipped method's gates (no tolerance): how many settings each would fail."""
    out = {}
    for method in (SHIPPED, PAIRED_T, AGRESTI_MIN, WEIGHTED_NORMAL, SIGN_FLIP):
        mine = [r for r in rows if method in r["methods"]]
        failing = [r["name"] for r in mine if not all(gates(_setting(r), r["methods"][method]).values())]
        figure = {r["name"]: r["methods"][method] for r in mine}
        at_margin = [r["name"] for r in mine if _at(r["gap"], -MARGIN)]
        worst_cov = min(figure, key=lambda k: figure[k]["coverage"])
        worst_ff = max(at_margin, key=lambda k: figure[k]["feasible"])
        out[method] = {"settings": len(mine), "failing": len(failing), "failing_settings": failing,
                       "worst_coverage": [worst_cov, figure[worst_cov]["coverage"]],
                       "worst_false_feasible": [worst_ff, figure[worst_ff]["feasible"]],
                       "out_of_range": sum(f["out_of_range"] for f in figure.values()),
                       "zero_width": sum(f["zero_width"] for f in figure.values())}
    return out


def _setting(row: dict) -> Setting:
    return Setting(row["level"], row["shape"], row["gap"], tuple(row["sizes"]), tuple(row["weights"]))


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}".replace("0.", ".", 1) if x < 1 else "1"


TELLING = [  # (level, shape, sizes, gap): the comparison table's rows
    ("task", "constant", (5,), 0.0), ("task", "constant", (5,), -MARGIN), ("task", "identical", (3,), 0.0),
    ("task", "binary", (3,), 0.0), ("task", "smooth", (3,), -MARGIN), ("task", "binary-one-sided", (20,), -MARGIN),
    ("task", "rare-partial", (20,), -MARGIN), ("task", "binary-one-sided", (50,), -MARGIN),
    ("task", "piled", (10,), -MARGIN), ("task", "binary", (200,), 0.0),
    ("task", "smooth", (200,), -3 * MARGIN), ("overall", "binary-one-sided", (5, 20, 50), -MARGIN),
    ("overall", "rare-partial", (3, 10), -MARGIN), ("overall", "constant", (3, 10), 0.0),
    ("overall", "binary", (50, 200), 0.0),
]


def markdown(result: dict) -> str:
    rows = result["settings"]
    by = {(r["level"], r["shape"], tuple(r["sizes"]), r["gap"]): r for r in rows}
    m = result["margin"]
    out = [
        "# Calibration of the paired comparison (bench/calibration.py)", "",
        f"{result['date']}; {result['reps']} datasets per task setting, {result['overall_reps']} per OVERALL setting;"
        f" margin {m}; {result['seconds']:.0f} s on {result['workers']} workers. Shipped method: `betting`.",
        f"Monte Carlo SE of a share near 0.05: {math.sqrt(.05 * .95 / result['reps']):.3f} (task),"
        f" {math.sqrt(.05 * .95 / result['overall_reps']):.3f} (OVERALL).", "",
        "Gates for `betting` at every setting: coverage >= 0.93, false feasible (gap -margin) <= 0.05, false"
        " infeasible (gap 0) <= 0.05, no interval outside [-1, 1].", "",
    ]
    for gate, g in result["gates"].items():
        failing = f" (failing: {', '.join(g['failing'])})" if g["failing"] else ""
        out.append(f"- **{gate}**: {'PASS' if g['pass'] else 'FAIL'} over {g['settings']} settings; worst"
                   f" {g['worst']}: {g['worst_value']}{failing}")
    out += ["", "Every method held to the same gates (no tolerance):", "",
            "| method | settings failing | worst coverage | worst false feasible | outside [-1,1] | zero-width |",
            "|" + "---|" * 6]
    for method, g in result["methods_vs_gates"].items():
        out.append(f"| {method} | {g['failing']}/{g['settings']} | {_f(g['worst_coverage'][1])}"
                   f" ({g['worst_coverage'][0]}) | {_f(g['worst_false_feasible'][1])} ({g['worst_false_feasible'][0]})"
                   f" | {g['out_of_range']} | {g['zero_width']} |")
    head = ("| shape | n | cov 0 | false infeas 0 | feasible 0 | cov -m | false feas -m | cov -3m | infeasible -3m"
            " | too few |")
    for level, title in (("task", "Per task"), ("overall", "OVERALL (weighted, Bonferroni)")):
        out += ["", f"## {title}: `betting`", "", head, "|" + "---|" * 10]
        keys = [(s, sz) for s in SHAPES for sz in ([(n,) for n in SIZES] if level == "task" else [x for x, _ in MIXES])]
        for shape, sizes in keys:
            cell = {g: by.get((level, shape, sizes, g), {}).get("methods", {}).get(SHIPPED) for g in GAPS}
            z, mm, m3 = cell[0.0], cell[-MARGIN], cell[-3 * MARGIN]
            out.append("| " + " | ".join([
                shape, "+".join(map(str, sizes)),
                _f(z and z["coverage"]), _f(z and z["infeasible"]), _f(z and z["feasible"]),
                _f(mm and mm["coverage"]), _f(mm and mm["feasible"]),
                _f(m3 and m3["coverage"]), _f(m3 and m3["infeasible"]), _f(z and z["too_few"]),
            ]) + " |")
    out += ["", "## Methods compared at telling settings", "",
            "| setting | method | coverage | feasible | infeasible | too few | zero-width | outside [-1,1]"
            " | mean width |",
            "|" + "---|" * 9]
    for key in TELLING:
        row = by.get(key)
        if row is None:
            continue
        for method, f in row["methods"].items():
            out.append(f"| {row['name']} | {method} | {_f(f['coverage'])} | {_f(f['feasible'])} | {_f(f['infeasible'])}"
                       f" | {_f(f['too_few'])} | {f['zero_width']}/{row['reps']} | {f['out_of_range']} |"
                       f" {f['mean_width']:.3f} |")
    out += ["", "A zero-width interval sitting exactly at the margin (constant shape, gap -margin) decides by the"
            " floating-point rounding of candidate - baseline; such verdicts are artefacts, not evidence.",
            "", "Truth: every shape's E[candidate - baseline] equals the gap exactly (tests/test_calibration.py checks"
            " it on 2x10^5 draws). Figures per setting and method, with standard errors: calibration.json.", ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help=f"datasets per task setting (default {REPS})")
    parser.add_argument("--overall-reps", type=int, default=None,
                        help=f"datasets per OVERALL setting (default {OVERALL_REPS})")
    parser.add_argument("--quick", action="store_true", help="few reps, print only, write nothing")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    reps = args.reps or (QUICK_REPS if args.quick else REPS)
    overall_reps = args.overall_reps or (QUICK_OVERALL_REPS if args.quick else OVERALL_REPS)
    started = time.perf_counter()
    settings = task_settings() + overall_settings()
    jobs = [(s, overall_reps if s.level == "overall" else reps) for s in settings]
    jobs.sort(key=lambda j: -(j[1] * (20 if j[0].level == "overall" else 1)))  # longest first: even finish
    rows = {}
    with multiprocessing.Pool(args.workers) as pool:
        for row in pool.imap_unordered(_run, jobs):
            rows[row["name"]] = row
            print(f"[{len(rows):>3}/{len(jobs)} {time.perf_counter() - started:5.0f}s] {line(row)}", flush=True)
    ordered = [rows[s.name] for s in settings]
    summary = gate_summary(ordered)
    seconds = round(time.perf_counter() - started, 1)
    print(f"\n{len(ordered)} settings in {seconds} s; shipped method `{SHIPPED}`:")
    for gate, g in summary.items():
        print(f"  {gate:<17} {'PASS' if g['pass'] else 'FAIL'} ({g['settings']} settings; worst {g['worst']}:"
              f" {g['worst_value']}, se {g['worst_se']})" + (f" FAILING: {g['failing']}" if g["failing"] else ""))
    versus = method_summary(ordered)
    for method, g in versus.items():
        print(f"  [{method}] fails {g['failing']}/{g['settings']} settings; worst coverage {g['worst_coverage']};"
              f" worst false feasible {g['worst_false_feasible']}; out of range {g['out_of_range']}")
    mismatches = sum(r["methods"][SHIPPED]["p_verdict_mismatch"] for r in ordered)
    print(f"  p-values vs verdicts: {mismatches} disagreements (informational)")
    passed = all(g["pass"] for g in summary.values())
    print(f"OVERALL VERDICT: {'PASS' if passed else 'FAIL'}")
    if args.quick:
        print("quick run: nothing written")
        return 0 if passed else 1
    result = {
        "bench": "calibration", "shipped": SHIPPED, "margin": MARGIN, "alpha": ALPHA, "gaps": list(GAPS),
        "reps": reps, "overall_reps": overall_reps, "workers": args.workers,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": seconds, "pass": passed, "gates": summary,
        "methods_vs_gates": versus,
        "methods": {SHIPPED: "harness.analysis.betting paired_test / overall_test (Bonferroni over tasks)",
                    PAIRED_T: "mean +/- t(0.975, n-1) sd/sqrt(n), unclipped; old product for non-binary scores",
                    AGRESTI_MIN: "Agresti-Min paired-proportion interval clipped to [-1, 1]; old product for 0/1",
                    WEIGHTED_NORMAL: "old OVERALL: weighted gap +/- 1.96 sqrt(sum w^2 se^2)",
                    SIGN_FLIP: f"Hartigan subset-mean / sign-flip interval, exact for n <= {SIGN_FLIP_EXACT_MAX},"
                               f" {SIGN_FLIP_PATTERNS} seeded patterns above; OVERALL Bonferroni"},
        "settings": ordered,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    MD.write_text(markdown(result))
    print(f"written to {OUT} and {MD}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
