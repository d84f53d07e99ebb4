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

Format = Literal["table", "csv", "json"]


def make_console() -> Console:
    """stdout console; piped output keeps whole rows instead of wrapping them to 80 columns."""
    return Console(stderr=False, width=None if sys.stdout.isatty() else 200)


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
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else _cell(v) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(_plain(value))
