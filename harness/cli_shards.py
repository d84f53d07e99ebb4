"""`harness export` and `harness merge`: runs as Parquet shards between machines. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.output import make_console
from harness.paths import default_db

console = make_console()


def export_cmd(
    run: Annotated[list[str], typer.Option("--run", "-r", help="A run id (repeat for several).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the shard (one subfolder per run "
                                                                  "when several runs are given).")],
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file [default: runs/harness.duckdb].")] = None,
) -> None:
    """Write complete runs as Parquet shards (samples, generations, scores, run and provider rows).

    Example: harness export --run 20261129-101500-ab12cd -o shards/run1
    """
    from harness.store.shards import export_run

    for run_id in run:
        folder = output / run_id if len(run) > 1 else output
        manifest = export_run(db or default_db(), run_id, folder)
        rows = ", ".join(f"{t} {n}" for t, n in manifest["rows"].items())
        console.print(f"exported {run_id} to {folder}: {rows}", markup=False, highlight=False)


def merge_cmd(
    folders: Annotated[list[Path], typer.Argument(help="Shard folders made by `harness export`.")],
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file [default: runs/harness.duckdb].")] = None,
) -> None:
    """Import shards into one database; rows already there are skipped, so merging twice adds nothing.

    Example: harness merge shards/run1 shards/run2 --db runs/merged.duckdb
    """
    from harness.store.shards import merge_shards

    added = merge_shards(db or default_db(), folders)
    rows = ", ".join(f"{t} {n}" for t, n in added.items())
    console.print(f"merged {len(folders)} shard(s) into {db or default_db()}: rows added: {rows}",
                  markup=False, highlight=False)
