"""`harness load`: latency and throughput of a served model at several concurrency levels."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from harness.cli.common import DbOption, console, database, names, say
from harness.cli.output import render
from harness.errors import HarnessError


def _levels(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HarnessError(f"--concurrency takes levels like 1,4,16,64, got {text!r}") from None


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def load_cmd(
    provider: Annotated[str, typer.Option("--provider", "-p", callback=names("provider"),
        help="An openai profile pointing at a server.")],
    traffic: Annotated[str | None, typer.Option(callback=names("suite"),
        help="Send an imported traffic suite's requests.")] = None,
    suite: Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
        help="Send the prompts of this suite's latest run.")
                     ] = None,
    concurrency: Annotated[str, typer.Option(help="Concurrency levels, run in turn (each 1 to 1,000).")
                           ] = "1,4,16,64",
    duration: Annotated[float, typer.Option(
        help="Seconds per level at most: requests still in flight then are cancelled (cut short, not errors).",
        min=0.1)] = 60.0,
    max_requests: Annotated[int | None, typer.Option(
        help="Requests sent per level at most, so levels x this in all [default: 20 per concurrent user].",
        min=1)] = None,
    max_tokens: Annotated[int, typer.Option(help="Output token cap per request.", min=1)] = 256,
    base_url: Annotated[str | None, typer.Option(help="Override the profile's base_url.")] = None,
    model: Annotated[str | None, typer.Option(help="Override the profile's model name.")] = None,
    db: DbOption = None,
) -> None:
    """Stream requests at each concurrency level (closed loop) and measure time to first token,
    inter-token latency, end-to-end latency and throughput; store them for capacity sizing.

    Example: harness load -p llamacpp --traffic support --concurrency 1,2,4 --duration 30
    """
    from harness.run.load import LoadOptions, run_load

    def progress(point: dict[str, Any]) -> None:
        cut = point["n_requests"] - point["n_ok"] - point["n_errors"]
        say(f"concurrency {point['concurrency']}: {point['n_ok']} ok, {point['n_errors']} errors, "
            + (f"{cut} cut short at the deadline, " if cut else "") + f"{point['rps'] or 0:.2f} req/s", stderr=True)

    outcome = run_load(LoadOptions(provider, suite, traffic, _levels(concurrency), duration, max_requests,
                                   max_tokens, base_url, model, db), progress)
    columns = ["concurrency", "requests", "errors", "req/s", "out tok/s", "TTFT p50/p95 ms", "ITL p50/p95 ms",
               "e2e p50/p95 ms"]
    rows = [[p["concurrency"], p["n_requests"], p["n_errors"], f"{p['rps'] or 0:.2f}", f"{p['output_tps'] or 0:.1f}",
             f"{_ms(p['ttft_p50_ms'])}/{_ms(p['ttft_p95_ms'])}", f"{_ms(p['itl_p50_ms'])}/{_ms(p['itl_p95_ms'])}",
             f"{_ms(p['e2e_p50_ms'])}/{_ms(p['e2e_p95_ms'])}"] for p in outcome.points]
    render(columns, rows, "table", console, title=f"load {outcome.load_id} ({provider}, {outcome.status})")
    say(f"stored in {database(db)} (load_runs, load_points, load_requests)")
    if outcome.status == "partial":
        say(f"warning: partial result: {outcome.note}", stderr=True)
    elif outcome.note:
        say(f"note: {outcome.note}")
