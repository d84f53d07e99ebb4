"""Every command that writes a path the user names (`report -o`, `export -o`) replaces only what the
harness wrote there before: a database, someone's notes, a traffic log or a folder of other files is
refused with one line and left byte for byte, and nothing else is written. `--force` overwrites a
file; rewriting the harness's own earlier output needs no flag. Driven through the CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from harness.outputs import written_by_harness
from tests.checks import one_error_line, query
from tests.conftest import run_harness


def _database(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create table kept as select 42 as answer")


def _text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content)


# Files a user keeps beside their reports: none of them may be replaced by `-o` without --force.
VICTIMS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "database": ("store.duckdb", _database),
    "notes": ("notes.md", _text("# My notes\n\nkeep these\n")),
    "page": ("page.html", _text("<!DOCTYPE html><html><head><title>mine</title></head></html>\n")),
    "text": ("notes.txt", _text("plain text\n")),
    "traffic": ("traffic.jsonl", _text('{"request": {"messages": []}, "response": {}}\n')),
}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for a folder): what "unchanged" means."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def _refused(result: subprocess.CompletedProcess, path: Path, folder: Path, before: dict[str, bytes | None]) -> str:
    line = one_error_line(result)
    assert result.returncode == 2 and str(path) in line, line
    assert _snapshot(folder) == before
    return line


def _report(db: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_harness("report", "-b", "fake", "-c", "fake2", "-o", str(output), "--db", str(db), *extra)


@pytest.mark.parametrize("victim", VICTIMS)
def test_report_refuses_a_file_it_did_not_write(victim: str, fake_runs: dict[str, Path], tmp_path: Path) -> None:
    name, make = VICTIMS[victim]
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / name
    make(target)
    before = _snapshot(folder)
    line = _refused(_report(fake_runs["db"], target), target, folder, before)
    if victim == "database":
        assert line == f"error: {target} is a DuckDB database, not a report; choose another -o"
    else:
        assert "--force" in line
    forced = _report(fake_runs["db"], target, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overwriting it: --force" in forced.stdout.splitlines()[0]
    assert written_by_harness(target)


def test_report_refuses_a_twin_it_did_not_write(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    notes = tmp_path / "review.md"
    notes.write_text("# review notes, by hand\n")
    before = _snapshot(tmp_path)
    line = _refused(_report(fake_runs["db"], tmp_path / "review.html"), notes, tmp_path, before)
    assert "the Markdown twin of review.html" in line
    # The other way round: `-o x.md` writes x.html too, and a hand-made x.html is kept.
    page = tmp_path / "page.html"
    page.write_text("<html>mine</html>")
    before = _snapshot(tmp_path)
    line = _refused(_report(fake_runs["db"], tmp_path / "page.md"), page, tmp_path, before)
    assert "the HTML twin of page.md" in line
    # And the sample browser beside them: a hand-made x.pairs.html is kept too.
    browser = tmp_path / "other.pairs.html"
    browser.write_text("<html>my own notes</html>")
    before = _snapshot(tmp_path)
    line = _refused(_report(fake_runs["db"], tmp_path / "other.html"), browser, tmp_path, before)
    assert "the sample browser of other.html" in line


def test_report_refuses_a_directory_even_forced(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "old.html").write_text("kept")
    before = _snapshot(tmp_path)
    for extra in ((), ("--force",)):
        _refused(_report(fake_runs["db"], folder, *extra), folder, tmp_path, before)


def test_report_rewrites_its_own_pair_and_says_so_first(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    first = _report(fake_runs["db"], tmp_path / "review.html")
    html, md, pairs = tmp_path / "review.html", tmp_path / "review.md", tmp_path / "review.pairs.html"
    assert first.stdout.splitlines()[0] == f"writing {html}, its Markdown twin {md} and the sample browser {pairs}"
    assert md.read_text().startswith("<!-- generator: lockin-harness ") and written_by_harness(pairs)
    again = _report(fake_runs["db"], md)  # named by its Markdown half this time
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == (
        f"writing {md} (replacing an earlier one), its HTML twin {html} (replacing an earlier one) and the "
        f"sample browser {pairs} (replacing an earlier one)")
    # No temporary left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.html", "review.md", "review.pairs.html"]
    # A pair written before the generator mark existed is still known as a report.
    for path in (html, md):
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if "generator" not in line))
    assert md.read_text().startswith("# Lock-in review: ") and "generator" not in html.read_text()
    assert _report(fake_runs["db"], html).returncode == 0


def _runs(db: Path) -> dict[str, str]:
    return {provider: run_id for run_id, provider in query(db, "select run_id, provider from runs")}


def _export(db: Path, output: Path, *runs: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return run_harness("export", *(a for r in runs for a in ("--run", r)), "-o", str(output), "--db", str(db), *extra)


@pytest.mark.parametrize("victim", VICTIMS)
def test_export_refuses_a_file_it_did_not_write(victim: str, fake_runs: dict[str, Path], tmp_path: Path) -> None:
    name, make = VICTIMS[victim]
    target = tmp_path / name
    make(target)
    before = _snapshot(tmp_path)
    run_id = _runs(fake_runs["db"])["fake"]
    line = _refused(_export(fake_runs["db"], target, run_id), target, tmp_path, before)
    if victim == "database":
        assert line == f"error: {target} is a DuckDB database, not a shard folder; choose another -o"
    forced = _export(fake_runs["db"], target, run_id, extra=("--force",))
    assert forced.returncode == 0, forced.stderr
    assert json.loads((target / "manifest.json").read_text())["run_id"] == run_id


def test_export_never_replaces_a_folder_of_other_files(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "runs.parquet").write_text("not ours")  # a name the shard would use
    before = _snapshot(tmp_path)
    run_id = _runs(fake_runs["db"])["fake"]
    for extra in ((), ("--force",)):
        line = _refused(_export(fake_runs["db"], folder, run_id, extra=extra), folder, tmp_path, before)
        assert "not a shard" in line


def test_export_replaces_its_own_shard_but_not_another_runs(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    runs, shard = _runs(fake_runs["db"]), tmp_path / "shard"
    assert _export(fake_runs["db"], shard, runs["fake"]).returncode == 0
    again = _export(fake_runs["db"], shard, runs["fake"])
    assert again.returncode == 0 and "(replacing an earlier one)" in again.stdout
    before = _snapshot(tmp_path)
    line = _refused(_export(fake_runs["db"], shard, runs["fake2"]), shard, tmp_path, before)
    assert f"already holds a shard of run {runs['fake']}" in line
    forced = _export(fake_runs["db"], shard, runs["fake2"], extra=("--force",))
    assert forced.returncode == 0 and f"replacing the shard of run {runs['fake']}" in forced.stdout
    assert json.loads((shard / "manifest.json").read_text())["run_id"] == runs["fake2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard"]  # no staging folder left


def test_export_of_several_runs_writes_none_when_one_is_refused(fake_runs: dict[str, Path], tmp_path: Path) -> None:
    runs = _runs(fake_runs["db"])
    out = tmp_path / "shards"
    (out / runs["fake2"]).mkdir(parents=True)
    (out / runs["fake2"] / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)
    _refused(_export(fake_runs["db"], out, runs["fake"], runs["fake2"]), out / runs["fake2"], tmp_path, before)
    unknown = _export(fake_runs["db"], tmp_path / "other", runs["fake"], "no-such-run")
    assert unknown.returncode == 2 and not (tmp_path / "other").exists()
