"""`harness export` and `harness merge`: runs as Parquet shards between machines. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import DbOption, database, say


def export_cmd(
    run: Annotated[list[str], typer.Option("--run", "-r", help="A run id (repeat for several).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the shard (one subfolder per run "
                                                                  "when several runs are given).")],
    db: DbOption = None,
) -> None:
    """Write complete runs as Parquet shards (samples, generations, scores, run and provider rows).

    Example: harness export --run 20261129-101500-ab12cd -o shards/run1
    """
    from harness.store.shards import export_run

    for run_id in run:
        folder = output / run_id if len(run) > 1 else output
        manifest = export_run(database(db), run_id, folder)
        rows = ", ".join(f"{t} {n}" for t, n in manifest["rows"].items())
        say(f"exported {run_id} to {folder}: {rows}")


def merge_cmd(
    folders: Annotated[list[Path], typer.Argument(help="Shard folders made by `harness export`.")],
    db: DbOption = None,
) -> None:
    """Import shards into one database; rows already there are skipped, so merging twice adds nothing.

    Example: harness merge shards/run1 shards/run2 --db runs/merged.duckdb
    """
    from harness.store.shards import merge_shards

    added = merge_shards(database(db), folders)
    rows = ", ".join(f"{t} {n}" for t, n in added.items())
    say(f"merged {len(folders)} shard(s) into {database(db)}: rows added: {rows}")
