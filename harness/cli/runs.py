"""What is stored: `sql`, and the `runs` and `cache` command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.common import (
    DbOption,
    FormatOption,
    command_group,
    console,
    database,
    names,
    parse_format,
    say,
)
from harness.cli.output import print_json, render, render_record

runs_app = command_group("Stored runs.")
cache_app = command_group("The response cache: stored answers reused by later runs.")


def sql_cmd(
    query: Annotated[str, typer.Argument(help="A SQL query over the store.")],
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Run a read-only SQL query over the results.

    Example: harness sql "select task, avg(score) from samples group by task"
    """
    from harness.store.queries import run_query

    output = parse_format(fmt)
    columns, rows = run_query(database(db), query)
    render(columns, rows, output, console)


@runs_app.command("list")
def runs_list(fmt: FormatOption = "table", db: DbOption = None) -> None:
    """List stored runs, newest first.

    Example: harness runs list
    """
    from harness.run.resume import runs_overview

    output = parse_format(fmt)
    columns, rows = runs_overview(database(db))
    render(columns, rows, output, console)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="A run id from `harness runs list`.")],
              fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Show a run's provenance and per-task scores.

    Example: harness runs show 20261129-101500-ab12cd
    """
    from harness.store.queries import show_run

    output = parse_format(fmt)
    run, (columns, rows) = show_run(database(db), run_id)
    if output == "json":  # one document: the run and its scores
        print_json({"run": run, "scores": [dict(zip(columns, r, strict=True)) for r in rows]})
        return
    if output == "csv":  # one table: the scores, each with its run id
        render(["run_id", *columns], [(run_id, *r) for r in rows], output, console)
        return
    render_record(run, console, title=f"run {run_id}")  # dozens of fields: one per line, none cut short
    render(columns, rows, output, console, title="scores")


@runs_app.command("agreement")
def runs_agreement(run_a: Annotated[str, typer.Argument(help="First run id.")],
                   run_b: Annotated[str, typer.Argument(help="Second run id.")],
                   fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Compare two runs doc by doc (same responses, filtered answers, scores) and store the result.

    Example: harness runs agreement RUN_A RUN_B
    """
    from harness.analysis.agreement import record_agreement

    output = parse_format(fmt)
    rows = record_agreement(database(db), run_a, run_b)
    kinds = ("same_response", "same_filtered", "same_score")
    for row in rows:
        row.update({f"{k}_share": row[k] / row["n"] if row["n"] else None for k in kinds})
    if output != "table":  # shares and the counts behind them
        columns = ["task", "n", *kinds, *(f"{k}_share" for k in kinds)]
        render(columns, [tuple(r[c] for c in columns) for r in rows], output, console)
        return
    shown = [(r["task"], r["n"], *(_share(r[k], r["n"]) for k in kinds)) for r in rows]
    render(["task", "n", "same response", "same filtered answer", "same score"], shown, output, console)


def _share(count: int, n: int) -> str:
    return f"{count / n:.1%} ({count}/{n})" if n else "—"


@cache_app.command("clear")
def cache_clear(provider: Annotated[str | None, typer.Option(
                    "--provider", "-p", callback=names("provider"),
                        help="Only this provider profile's answers.")] = None,
                db: DbOption = None) -> None:
    """Delete cached responses (all, or one provider's), so the next run asks the provider again.

    Example: harness cache clear --provider smollm2
    """
    from harness.store import Store
    from harness.store.cache import clear

    count = clear(Store(database(db)), provider)
    say(f"cleared {count} cached responses" + (f" of provider '{provider}'" if provider else ""))


@cache_app.command("stats")
def cache_stats(fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Show how many answers the cache holds per provider.

    Example: harness cache stats
    """
    from harness.store import Store
    from harness.store.cache import stats

    output = parse_format(fmt)
    columns, rows = stats(Store(database(db)))
    render(columns, rows, output, console)
