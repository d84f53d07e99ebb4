"""Runs as portable Parquet shards: `harness export` on one machine, `harness merge` into another store.

A shard is a folder: one Parquet file per table (the run's rows only) and `manifest.json` naming the
run, its provider profile hash, suite hash, the schema migrations it was written under and the
SHA-256 of each Parquet file (so a shard edited after export is refused, not merged). Merging
inserts what is missing and skips what is there, in one transaction, so merging twice adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from harness import __version__
from harness.digest import file_sha256
from harness.errors import HarnessError
from harness.outputs import MANIFEST_MARK, claim_folder, parent_folder
from harness.store.db import Store
from harness.store.migrations import MIGRATIONS
from harness.textfile import staged_folder

FORMAT = 1
# Table -> the rows of one run. Providers are keyed by the run's profile hash.
TABLES = {
    "providers": "profile_hash = (select profile_hash from runs where run_id = $run)",
    "runs": "run_id = $run",
    "generations": "run_id = $run",
    "samples": "run_id = $run",
    "task_scores": "run_id = $run",
}


def export_targets(run_ids: list[str], output: Path, force: bool) -> list[tuple[str, Path, str]]:
    """(run id, shard folder, what happens to what is there) per run, checked before anything is
    written: `output` itself for one run, `output/RUN_ID` for several. Raises HarnessError for a folder
    of other files, a file (without `force`) or a shard of another run (without `force`)."""
    runs = list(dict.fromkeys(run_ids))  # a run given twice is one shard
    targets = []
    for run_id in runs:
        folder = output / run_id if len(runs) > 1 else output
        parent_folder(folder)
        state = claim_folder(folder, "shard", force)
        other = _manifest_run(folder) if state and folder.is_dir() else run_id
        if other != run_id:  # ours, but another run's: replacing it loses that export
            if not force:
                raise HarnessError(f"{folder} already holds a shard of run {other}; choose another -o, "
                                   "or --force to replace it")
            state = f"replacing the shard of run {other}: --force"
        targets.append((run_id, folder, state))
    return targets


def _manifest_run(folder: Path) -> str | None:
    try:
        return json.loads((folder / "manifest.json").read_text()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def check_exportable(db: Path, run_ids: list[str]) -> None:
    """Refuse an unknown or unfinished run before any shard is written, so none is half-exported."""
    with Store(db, wait_s=10.0).connect(read_only=True) as con:
        for run_id in run_ids:
            row = con.execute("select status from runs where run_id = ?", [run_id]).fetchone()
            if row is None:
                raise HarnessError(f"no run '{run_id}' in {db}")
            if row[0] != "complete":
                raise HarnessError(f"run {run_id} is {row[0]}; only complete runs are exported")


def export_run(db: Path, run_id: str, folder: Path) -> dict[str, Any]:
    """Write one complete run as a shard folder, whole or not at all; return its manifest. The folder
    must have passed `export_targets`: whatever is at `folder` is replaced."""
    check_exportable(db, [run_id])
    with Store(db, wait_s=10.0).connect(read_only=True) as con, staged_folder(folder) as staging:
        row = con.execute("select provider, profile_hash, suite, suite_hash from runs where run_id = ?",
                          [run_id]).fetchone()
        assert row is not None  # checked above; runs are never deleted
        counts = {}
        for table, where in TABLES.items():
            target = staging / f"{table}.parquet"
            con.execute(f"copy (select * from {table} where {where}) to '{_quoted(target)}' (format parquet)",
                        {"run": run_id})
            counts[table] = con.execute(f"select count(*) from {table} where {where}", {"run": run_id}).fetchone()[0]  # type: ignore[index]
        schema = [r[0] for r in con.execute("select name from schema_migrations order by id").fetchall()]
        manifest = {
            **MANIFEST_MARK, "format": FORMAT, "run_id": run_id, "provider": row[0], "profile_hash": row[1],
            "suite": row[2], "suite_hash": row[3], "schema": schema, "rows": counts, "harness_version": __version__,
            "sha256": {table: file_sha256(staging / f"{table}.parquet") for table in TABLES},
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


@dataclass(frozen=True)
class Shard:
    folder: Path
    manifest: dict[str, Any]


def read_shard(folder: Path) -> Shard:
    """Validate a shard folder before anything is written."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise HarnessError(f"{folder} is not a shard: no manifest.json (make one with `harness export`)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: unreadable manifest: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise HarnessError(f"{folder}: shard format {manifest.get('format')} is not {FORMAT}; upgrade lockin-harness")
    unknown = [m for m in manifest.get("schema", []) if m not in {name for name, _ in MIGRATIONS}]
    if unknown:
        raise HarnessError(f"{folder}: written by a newer harness (schema migration '{unknown[0]}'); upgrade first")
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").is_file()]
    if missing:
        raise HarnessError(f"{folder}: {missing[0]}.parquet is missing")
    return Shard(folder, manifest)


def _check_consistent(shards: list[Shard], con: duckdb.DuckDBPyConnection) -> None:
    """Refuse shards that do not belong together: one provider and suite must mean one profile and one
    suite version, and a run already in the store must be the same run."""
    seen: dict[tuple[str, str], Shard] = {}
    for shard in shards:
        m = shard.manifest
        first = seen.setdefault((m["provider"], m["suite"]), shard)
        for key, what in (("profile_hash", "provider profile"), ("suite_hash", "suite version")):
            if first.manifest[key] != m[key]:
                raise HarnessError(f"shards {first.folder} and {shard.folder} differ in {what} for "
                                   f"{m['provider']} on {m['suite']} ({first.manifest[key]} vs {m[key]})")
        row = con.execute("select profile_hash, suite_hash from runs where run_id = ?", [m["run_id"]]).fetchone()
        if row is not None and (row[0], row[1]) != (m["profile_hash"], m["suite_hash"]):
            raise HarnessError(f"{shard.folder}: run {m['run_id']} is already stored with another provider profile "
                               "or suite version; refusing to mix them")


def _check_readable(shards: list[Shard]) -> None:
    """Read every Parquet file in full, in memory, so a corrupt one is named before anything is opened."""
    with duckdb.connect(":memory:") as con:
        for shard in shards:
            for table in TABLES:
                path = shard.folder / f"{table}.parquet"
                try:
                    # Every column of every row (a count alone reads only the footer).
                    con.execute("create or replace temp table probe as select * from read_parquet(?)", [str(path)])
                except duckdb.Error as exc:
                    raise HarnessError(f"{path} is not a readable Parquet file "
                                       f"({' '.join(str(exc).split())[:200]}); nothing merged") from exc


def _check_unchanged(shards: list[Shard]) -> None:
    """Refuse a shard whose files differ from what export wrote: samples edited by hand (a score
    raised, a response rewritten) would otherwise merge as if the run had produced them."""
    for shard in shards:
        hashes = shard.manifest.get("sha256")
        if not isinstance(hashes, dict):
            raise HarnessError(f"{shard.folder}: the manifest carries no content hashes (exported by an older "
                               "harness); export the run again")
        for table in TABLES:
            if hashes.get(table) != file_sha256(shard.folder / f"{table}.parquet"):
                raise HarnessError(f"{shard.folder}: {table}.parquet changed after export (its SHA-256 does not "
                                   "match the manifest); nothing merged")


def merge_shards(db: Path, folders: list[Path]) -> dict[str, int]:
    """Import shards idempotently in one transaction; return rows added per table."""
    shards = [read_shard(f) for f in folders]
    _check_readable(shards)  # before the target is opened: a bad shard must not create an empty database
    _check_unchanged(shards)
    added = dict.fromkeys(TABLES, 0)
    with Store(db).connect() as con:
        _check_consistent(shards, con)
        con.execute("begin transaction")
        try:
            for shard in shards:
                for table in TABLES:
                    before = con.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
                    con.execute(f"insert or ignore into {table} by name select * from read_parquet(?)",
                                [str(shard.folder / f"{table}.parquet")])
                    added[table] += con.execute(f"select count(*) from {table}").fetchone()[0] - before  # type: ignore[index]
            con.execute("commit")
        except duckdb.Error as exc:
            con.execute("rollback")
            raise HarnessError(f"merge failed, nothing written: {' '.join(str(exc).split())[:300]}") from exc
    return added


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
