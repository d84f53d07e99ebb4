"""`harness export` and `harness merge`: runs as Parquet shards between machines. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import DbOption, database, say


def export_cmd(
    run: Annotated[list[str], typer.Option("--run", "-r", help="A run id (repeat for several).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the shard (one subfolder per run "
                                                                  "when several runs are given): new, empty or an "
                                                                  "earlier shard of the same run.")],
    force: Annotated[bool, typer.Option(help="Replace a file at -o, or a shard of another run there.")] = False,
    db: DbOption = None,
) -> None:
    """Write complete runs as Parquet shards (samples, generations, scores, run and provider rows).

    A folder of other files is never replaced; a file, or a shard of another run, only with --force.

    Example: harness export --run 20261129-101500-ab12cd -o shards/run1
    """
    from harness.outputs import how
    from harness.store.shards import check_exportable, export_run, export_targets

    targets = export_targets(run, output, force)
    check_exportable(database(db), [run_id for run_id, _, _ in targets])
    for run_id, folder, state in targets:
        say(f"writing the shard of {run_id} to {how(folder, state)}")
    for run_id, folder, _ in targets:
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
