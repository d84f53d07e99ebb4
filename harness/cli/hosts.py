"""`harness hosts`: the same open weights served by several hosts, each against the first."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

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


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _num(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def hosts_cmd(
    provider: Annotated[list[str], typer.Option("--provider", "-p", callback=names("provider"),
        help="A profile serving the weights (repeat; the first is the reference).")],
    suite: Annotated[str, typer.Option("--suite", "-s", callback=names("suite"), help="The suite every host ran.")],
    repeats: Annotated[int, typer.Option(
        help="How many of each host's latest runs make its noise band (run them with `harness eval --repeat`).",
        min=2, max=20)] = 2,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Is the open model portable? One model's weights on several hosts (transformers, llama.cpp's server,
    a hosted endpoint ...): per host and task the score, its run-to-run noise band over the host's latest
    runs, the tool-call trigger rate and tool/schema validity; per task each host against the first with
    the exact 95% CI of `harness compare`. A difference is called only when the CI excludes 0 and the gap
    exceeds both hosts' noise bands.

    Example: harness hosts -p smollm2 -p llamacpp -s support
    """
    from harness.analysis.hosts import compare_hosts

    output = parse_format(fmt)
    result = compare_hosts(database(db), provider, suite, repeats, max_error_rate)
    if output == "json":
        print_json({"suite": suite, "hosts": [asdict(h) for h in result.hosts], "rows": result.rows,
                    "differences": result.differences, "notes": result.notes})
        return
    columns = ["task", "host", "runs", "n", "score", "noise", "tool trigger", "tool valid", "schema valid"]
    rows: list[list[Any]] = [[r["task"], r["provider"], r["runs"], r["n"], _num(r["score"]), _num(r["noise"]),
                              _share(r["tool_trigger"]), _share(r["tool_valid"]), _share(r["schema_valid"])]
                             for r in result.rows]
    render(columns, rows, output, console, title=f"the same weights on {len(result.hosts)} hosts: {suite}")
    columns = ["task", "host", "vs", "n", "gap", "95% CI", "noise", "call"]
    rows = [[d["task"], d["provider"], d["reference"], d["n"], _num(d["gap"], "+.3f"),
             f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]" if d["ci_low"] is not None else "", _num(d["noise"]),
             d["call"]] for d in result.differences]
    render(columns, rows, output, console, title="each host against the first")
    for note in result.notes:
        say(f"note: {note}")

