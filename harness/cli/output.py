"""Render query results and score tables as a rich table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.visible import escape_json_text, json_safe, visible

Format = Literal["table", "csv", "json"]


def make_console(stderr: bool = False) -> Console:
    """A console that prints data as text: no markup (`[/INST]` is a prompt, not a tag), no emoji
    codes (`:x:`), no highlighting. Piped stdout keeps whole rows instead of wrapping at 80 columns,
    unless $COLUMNS asks for a width."""
    width = None if stderr or sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 200
    return Console(stderr=stderr, width=width, markup=False, emoji=False, highlight=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format, console: Console,
           title: str | None = None) -> None:
    """Print rows in the chosen format; CSV and JSON go to stdout unstyled, for pipes."""
    if fmt == "json":
        print_json([{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows])
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([visible(str(c)) for c in columns])
        writer.writerows([[_csv_cell(v) for v in row] for row in rows])
        print(buffer.getvalue(), end="")
        return
    table = Table(title=Text(visible(title)) if title else None)
    for column in columns:
        table.add_column(Text(visible(str(column))))
    for row in rows:
        table.add_row(*(Text("" if v is None else visible(_cell(v))) for v in row))
    console.print(table)


def print_json(document: Any) -> None:
    """Print a JSON document to stdout: strict JSON (NaN and infinities as null, so json.loads and jq
    read it), non-ASCII text as itself, every control character escaped."""
    text = json.dumps(json_safe(document), indent=2, ensure_ascii=False, allow_nan=False, default=str)
    print(escape_json_text(text))


def render_record(record: dict[str, Any], console: Console, title: str | None = None) -> None:
    """One record as `key  value` lines (a run's provenance has dozens of fields: as one table row
    every cell was cut to "…" at any terminal width); a long value wraps in its column, never truncates."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in record.items():
        grid.add_row(Text(visible(str(key))), Text("" if value is None else visible(_cell(value))))
    if title:
        console.print(Text(visible(title)))
    console.print(grid)


def _csv_cell(value: Any) -> Any:
    plain = _plain(value)
    return visible(plain) if isinstance(plain, str) else plain


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(_plain(value))
