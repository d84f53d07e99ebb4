"""Render query results and score tables as a rich table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Format = Literal["table", "csv", "json"]


def make_console(stderr: bool = False) -> Console:
    """A console that prints data as text: no markup (`[/INST]` is a prompt, not a tag), no emoji
    codes (`:x:`), no highlighting. Piped stdout keeps whole rows instead of wrapping at 80 columns."""
    width = None if stderr or sys.stdout.isatty() else 200
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
        records = [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        print(json.dumps(records, indent=2, ensure_ascii=False, default=str))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        print(buffer.getvalue(), end="")
        return
    table = Table(title=Text(title) if title else None)
    for column in columns:
        table.add_column(Text(str(column)))
    for row in rows:
        table.add_row(*(Text("" if v is None else _cell(v)) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(_plain(value))
