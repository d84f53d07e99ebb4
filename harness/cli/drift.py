"""`harness drift`: did the model behind a profile change between two of its runs?"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated

import typer

from harness.cli.common import (
    MAX_ERROR_RATE,
    DbOption,
    FormatOption,
    MaxErrorRateOption,
    console,
    database,
    names,
    parse_format,
    say,
)
from harness.cli.output import print_json, render
from harness.errors import HarnessError


def _since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise HarnessError(f"--since takes a date as YYYY-MM-DD, got {value!r}") from None


def drift_cmd(
    provider: Annotated[str, typer.Option("--provider", "-p", callback=names("provider"),
        help="The profile whose runs are compared.")],
    suite: Annotated[str, typer.Option("--suite", "-s", callback=names("suite"), help="The suite both runs ran.")],
    since: Annotated[str | None, typer.Option(
        help="Compare the latest run with the latest one started before this date (YYYY-MM-DD).")] = None,
    runs: Annotated[list[str] | None, typer.Option(
        "--runs", help="Two run ids, earlier then later (give --runs twice).")] = None,
    margin: Annotated[float, typer.Option(help="A regression is a change whose 95% CI lies below -margin.",
                                          min=0.0)] = 0.0,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="'regression': exit 1 when any task regressed, or has no answered pair to tell "
                          "(for cron and CI).")] = None,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Compare a profile's latest complete run on a suite with the one before: per task the paired
    change (95% CI, p), the share of identical answers, the docs that flipped, and whether the reported
    model or system fingerprint changed. The check is stored for the report's drift timeline.
    Runs of another profile, suite or model, runs that asked other questions (the comparability guard
    of `harness compare`) and runs over the error budget are refused, and nothing is stored.

    Example: harness drift -p gpt-4o -s support --fail-on regression
    """
    from harness.analysis.drift import drift

    if fail_on not in (None, "regression"):
        raise HarnessError(f"--fail-on takes 'regression', got {fail_on!r}")
    output = parse_format(fmt)
    result = drift(database(db), provider, suite, margin, _since(since), runs, max_error_rate)
    if output == "json":
        print_json({"provider": provider, "suite": suite, "earlier_run": result.earlier_run,
                    "later_run": result.later_run, "rows": result.rows, "flipped": result.flipped,
                    "models": result.models, "fingerprints": result.fingerprints, "notes": result.notes})
    else:
        columns = ["task", "n", "earlier", "later", "change", "95% CI", "p", "identical", "flipped", "verdict"]
        rows = [[r["task"], r["n"], _num(r["earlier_mean"]), _num(r["later_mean"]), _num(r["change"], "+.3f"),
                 f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" if r["ci_low"] is not None else "", r["p_value"],
                 f"{r['identical_share']:.0%}" if r["identical_share"] is not None else "", r["flipped"], r["verdict"]]
                for r in result.rows]
        render(columns, rows, "table", console,
               title=f"{provider} on {suite}: {result.earlier_run} -> {result.later_run}")
        for name, per_run in (("model", result.models), ("fingerprint", result.fingerprints)):
            before, after = per_run.get(result.earlier_run), per_run.get(result.later_run)
            say(f"{name}: {', '.join(before or ['-'])} -> {', '.join(after or ['-'])}"
                + (" (changed)" if before != after else " (unchanged)"))
        for flip in result.flipped[:10]:
            say(f"flipped: {flip['task']} doc {flip['doc_id']}: {flip['earlier_score']} -> {flip['later_score']}: "
                f"{json.dumps(flip['earlier'])} -> {json.dumps(flip['later'])}")
        for note in result.notes:
            say(f"note: {note}")
    if fail_on == "regression" and result.regressed:
        say(f"error: regression on {', '.join(result.regressed)} ({provider}, {result.earlier_run} -> "
            f"{result.later_run})", stderr=True)
        sys.exit(1)
    if fail_on == "regression" and result.unpaired:
        say(f"error: cannot tell whether {', '.join(result.unpaired)} regressed: no answered pairs ({provider}, "
            f"{result.earlier_run} -> {result.later_run})", stderr=True)
        sys.exit(1)


def _num(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)
