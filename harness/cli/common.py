"""What every command shares: the consoles, the `--db` and `--format` options, and printing a line
of data verbatim (stored text is never read as Rich markup)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.output import Format, make_console
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE
from harness.config.names import check_name
from harness.config.paths import default_db
from harness.errors import HarnessError
from harness.visible import visible

console = make_console()
err = make_console(stderr=True)

DbOption = Annotated[Path | None, typer.Option(
    "--db", help="DuckDB file [default: $HARNESS_DB, else runs/harness.duckdb].")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]
MaxErrorRateOption = Annotated[float, typer.Option(
    help="Refuse a run whose share of errored generations is above this (0.02 = 2%); errored docs are left out "
         "of both sides of every pair.", min=0.0, max=1.0)]
MAX_ERROR_RATE = DEFAULT_MAX_ERROR_RATE


def command_group(help_text: str) -> typer.Typer:
    """A sub-command group; its help is plain text like the root app's."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def database(db: Path | None) -> Path:
    """The database a command uses: `--db`, else `$HARNESS_DB`, else the runs folder's file."""
    return db or default_db()


def parse_format(value: str) -> Format:
    """The `--format` value, checked."""
    if value not in ("table", "csv", "json"):
        raise HarnessError(f"unknown format '{value}'; use table, csv or json")
    return value  # type: ignore[return-value]


def say(text: str, stderr: bool = False) -> None:
    """Print one line as plain text: no markup, no highlighting, no wrapping, control characters
    shown escaped (an error can quote a stored or user-given string)."""
    (err if stderr else console).print(visible(text), markup=False, highlight=False, soft_wrap=True)


def names(kind: str) -> Callable[[Any], Any]:
    """A typer callback checking a name option (one value or a repeated option's list) as it is
    parsed: an empty or whitespace value (`-p "$UNSET"`) or a path is refused before anything runs,
    so it can never fall back to a default. Returns the value unchanged."""

    def check(value: Any) -> Any:
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            check_name(kind, item)
        return value

    return check


# The sides of a comparison, as `report` and `browse` name them.
BaselineOption = Annotated[str, typer.Option("--baseline", "-b", callback=names("baseline"),
                                             help="Incumbent: a provider name or a run id.")]
CandidatesOption = Annotated[list[str], typer.Option("--candidate", "-c", callback=names("candidate"),
                                                     help="A candidate (repeat for several).")]
SuiteFilterOption = Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
                                                       help="Only runs of this suite.")]
