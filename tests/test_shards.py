"""Export runs as Parquet shards and merge them into another store: same numbers, idempotent, and
shards that do not belong together are refused with one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_harness


def _runs(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("select run_id from runs where provider in ('fake', 'fake2')"
                                          " order by provider").fetchall()]
    finally:
        con.close()


@pytest.fixture
def shards(fake_runs: dict[str, Path], tmp_path: Path) -> tuple[Path, list[Path]]:
    db = fake_runs["db"]
    runs = _runs(db)
    out = tmp_path / "shards"
    result = run_harness("export", *(a for r in runs for a in ("--run", r)), "-o", str(out), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db, [out / r for r in runs]


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]  # type: ignore[index]
                for t in ("providers", "runs", "generations", "samples", "task_scores")}
    finally:
        con.close()


def test_merge_gives_the_same_comparison_and_is_idempotent(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    source, folders = shards
    target = tmp_path / "merged.duckdb"
    first = run_harness("merge", *map(str, folders), "--db", str(target))
    assert first.returncode == 0, first.stderr
    counts = _counts(target)
    assert counts == {"providers": 2, "runs": 2, "generations": 144, "samples": 144, "task_scores": 6}
    again = run_harness("merge", *map(str, folders), "--db", str(target))
    assert again.returncode == 0, again.stderr
    assert "providers 0, runs 0, generations 0, samples 0, task_scores 0" in again.stdout
    assert _counts(target) == counts
    compare = ("compare", "-b", "fake", "-c", "fake2", "-f", "json")
    on_source = json.loads(run_harness(*compare, "--db", str(source)).stdout)
    on_target = json.loads(run_harness(*compare, "--db", str(target)).stdout)
    assert on_target == on_source


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_refuses_shards_with_different_profiles(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, folders = shards
    twin = tmp_path / "twin"
    shutil.copytree(folders[0], twin)
    _edit_manifest(twin, run_id="another-run", profile_hash="0123456789abcdef")
    target = tmp_path / "merged.duckdb"
    result = run_harness("merge", str(folders[0]), str(twin), "--db", str(target))
    assert result.returncode == 2
    assert "differ in provider profile for fake on smoke" in result.stderr
    assert not target.exists() or _counts(target)["runs"] == 0


def test_refuses_a_suite_version_that_differs(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, folders = shards
    twin = tmp_path / "twin"
    shutil.copytree(folders[0], twin)
    _edit_manifest(twin, run_id="another-run", suite_hash="feedfacefeedface")
    result = run_harness("merge", str(folders[0]), str(twin), "--db", str(tmp_path / "m.duckdb"))
    assert result.returncode == 2 and "differ in suite version" in result.stderr


def test_refuses_a_stored_run_with_another_profile(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, folders = shards
    target = tmp_path / "merged.duckdb"
    assert run_harness("merge", str(folders[0]), "--db", str(target)).returncode == 0
    _edit_manifest(folders[0], profile_hash="0123456789abcdef")
    result = run_harness("merge", str(folders[0]), "--db", str(target))
    assert result.returncode == 2 and "already stored with another provider profile" in result.stderr


@pytest.mark.parametrize(("damage", "message"), [
    ("no-manifest", "is not a shard"),
    ("newer-schema", "written by a newer harness"),
    ("missing-table", "samples.parquet is missing"),
])
def test_bad_shards_are_one_line(damage: str, message: str, shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    folder = shards[1][0]
    if damage == "no-manifest":
        (folder / "manifest.json").unlink()
    elif damage == "newer-schema":
        _edit_manifest(folder, schema=["0001_initial", "9999_future"])
    else:
        (folder / "samples.parquet").unlink()
    result = run_harness("merge", str(folder), "--db", str(tmp_path / "m.duckdb"))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_export_refuses_unknown_runs(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    result = run_harness("export", "--run", "nope", "-o", str(tmp_path / "x"), "--db", str(fake_runs["db"]))
    assert result.returncode == 2 and "no run 'nope'" in result.stderr
