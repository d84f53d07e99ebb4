"""Analysis commands (`harness compare`): parse options, call harness.analysis, print. No logic here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.errors import HarnessError
from harness.output import Format, render
from harness.paths import default_db

# Piped output keeps whole rows rather than wrapping them to 80 columns.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

# Columns of `--format table`; json and csv carry every column.
_TABLE = (
    ("task", "task"), ("n", "n"), ("baseline", "baseline_mean"), ("candidate", "candidate_mean"), ("gap", "gap"),
    ("95% CI", "ci"), ("retained", "retained"), ("p", "p_value"), ("verdict", "verdict"),
    ("n to decide", "samples_needed"), ("$/1k base→cand", "cost"), ("p50 ms base→cand", "p50"),
)


def parse_format(value: str) -> Format:
    if value not in ("table", "csv", "json"):
        raise HarnessError(f"unknown format '{value}'; use table, csv or json")
    return value  # type: ignore[return-value]


def compare_cmd(
    baseline: Annotated[str, typer.Option("--baseline", "-b", help="Incumbent: a provider name or a run id.")],
    candidate: Annotated[str, typer.Option("--candidate", "-c", help="Candidate: a provider name or a run id.")],
    suite: Annotated[str | None, typer.Option("--suite", "-s", help="Only runs of this suite.")] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin in score points (0.05 = 5 points).")] = 0.05,
    allow_mismatch: Annotated[bool, typer.Option(
        "--allow-mismatch", help="Compare runs that differ in docs, versions, few-shot, decoding or template; "
                                 "every output is labelled.")] = False,
    holm: Annotated[bool, typer.Option("--holm", help="Add Holm-adjusted p-values across tasks.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Paired bootstrap resamples (seeded).", min=100)] = 2000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")] = "table",
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file [default: runs/harness.duckdb].")] = None,
) -> None:
    """Quality gap per task and overall, with 95% CIs and a migration verdict against a margin.

    Example: harness compare --baseline gpt-4o --candidate smollm2 --suite core --margin 0.05
    """
    from harness.analysis.compare import CompareOptions, compare

    output = parse_format(fmt)
    result = compare(db or default_db(), CompareOptions(
        baseline=baseline, candidate=candidate, suite=suite, margin=margin, allow_mismatch=allow_mismatch,
        holm=holm, bootstrap_iterations=bootstrap,
    ))
    if output == "json":
        print(json.dumps({
            "baseline": result.baseline, "candidate": result.candidate, "suite": result.suite,
            "margin": result.margin, "label": result.label, "mismatches": result.mismatches, "rows": result.rows,
        }, indent=2, default=str))
        return
    if output == "csv":
        columns = list(result.rows[0])
        render(columns, [[_csv_value(r[c]) for c in columns] for r in result.rows], "csv", console)
        return
    if result.label:
        err.print(result.label, markup=False, highlight=False, soft_wrap=True)
    title = f"{candidate} vs {baseline} (margin {margin:g})" + (" — MISMATCHED" if result.label else "")
    render([name for name, _ in _TABLE], [[_cell(r, key) for _, key in _TABLE] for r in result.rows], "table",
           console, title=title)


def _csv_value(value: Any) -> Any:
    return ";".join(f"{v:.6g}" for v in value) if isinstance(value, tuple | list) else value


def _cell(row: dict[str, Any], key: str) -> Any:
    if key == "ci":
        return _span(row["ci_low"], row["ci_high"])
    if key == "cost":
        return _pair(row["baseline_cost_per_1k"], row["candidate_cost_per_1k"], "{:.4g}")
    if key == "p50":
        return _pair(row["baseline_p50_ms"], row["candidate_p50_ms"], "{:.0f}")
    value = row.get(key)
    if key in ("baseline_mean", "candidate_mean", "retained"):
        return None if value is None else f"{value:.3f}"
    if key == "gap":
        return f"{value:+.3f}"
    return value


def _span(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:+.3f}, {high:+.3f}]"


def _pair(left: float | None, right: float | None, spec: str) -> str:
    if left is None and right is None:
        return ""
    show = lambda v: "—" if v is None else spec.format(v)  # noqa: E731
    return f"{show(left)} → {show(right)}"
