"""More of the bad-input matrix: what a new user hit on a clean clone. Same rules as test_bad_input:
exit 2, one `error:` line, and nothing changed where nothing should change (the database frozen,
no stray files written, no empty database made)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.test_bad_input import (  # noqa: F401  (seed and world are fixtures used by name)
    Args,
    World,
    _after,
    _sha,
    _static,
    check_case,
    seed,
    world,
)


def _seeded_frozen(w: World) -> str:
    run_id = w.seeded()
    w.freeze()
    return run_id


def _foreign(w: World) -> None:
    """Someone else's DuckDB file that happens to have a `runs` table."""
    w.db = w.tmp / "theirs.duckdb"
    con = duckdb.connect(str(w.db))
    con.execute("create table runs (id integer, note varchar)")
    con.execute("insert into runs values (1, 'not ours')")
    con.close()
    w.freeze()


def _corrupt_shard(w: World) -> str:
    """A shard exported from the seed, then one Parquet file overwritten with garbage."""
    run_id = w.seeded()
    shard = w.tmp / "shard"
    exported = subprocess.run([sys.executable, "-m", "harness", "export", "-r", run_id, "-o", str(shard)],
                              capture_output=True, text=True, env={**os.environ, **w.env}, timeout=120)
    assert exported.returncode == 0, exported.stderr
    (shard / "samples.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 100 + b"PAR1")
    w.db = w.tmp / "merged.duckdb"  # must not come into being
    return str(shard)


def _unwritable_folder(w: World) -> str:
    folder = w.tmp / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    w.cleanup.append(lambda: folder.chmod(0o755))
    from tests.checks import obey_file_modes

    if os.geteuid() == 0:
        w.popen["preexec_fn"] = obey_file_modes
    _seeded_frozen(w)
    return str(folder / "report.html")


SQL = ("sql",)
REPORT = ("report", "-b", "fake", "-c", "fake")

MORE: dict[str, tuple[Args, str]] = {
    # harness sql reads the database and nothing else
    "sql COPY to a file": (_after(_seeded_frozen, *SQL, "copy samples to '{tmp}/out.csv'"), "Permission Error"),
    "sql COPY over another database": (_after(_seeded_frozen, *SQL, "copy runs to '{tmp}/other.duckdb'"),
                                       "Permission Error"),
    "sql EXPORT DATABASE": (_after(_seeded_frozen, *SQL, "export database '{tmp}/dump'"), "Permission Error"),
    "sql read_csv of a system file": (_after(_seeded_frozen, *SQL, "select * from read_csv('/etc/passwd')"),
                                      "Permission Error"),
    "sql glob": (_after(_seeded_frozen, *SQL, "select * from glob('/etc/*')"), "Permission Error"),
    "sql ATTACH": (_after(_seeded_frozen, *SQL, "attach '{tmp}/new.duckdb' as x"), "Permission Error"),
    "sql INSTALL": (_after(_seeded_frozen, *SQL, "install httpfs"), "Permission Error"),
    "sql unlocks its own sandbox": (_after(_seeded_frozen, *SQL, "set enable_external_access = true"),
                                    "Cannot change configuration option"),
    "sql empty query": (_after(_seeded_frozen, *SQL, ""), "empty SQL query"),
    "sql changes a setting": (_after(_seeded_frozen, *SQL, "set threads = 1"), "configuration has been locked"),
    # Names are names
    "provider name with a path": (_static("eval", "-p", "../evil"), "provider name '../evil' is not a name"),
    "provider absolute path": (_static("eval", "-p", "/etc/passwd"), "is not a name"),
    "suite name with a path": (_static("eval", "-p", "fake", "-s", "../tasks/smoke"), "suite name .* is not a name"),
    "task name with a path": (_static("eval", "-p", "fake", "-t", "smoke/smoke_choice"), "task name .* is not a name"),
    "probe provider with a path": (_static("probe", "-p", "../evil"), "is not a name"),
    # Shadowing
    "custom task named like a suite task": (
        _after(lambda w: (w.copy("tasks"), (w.tmp / "rows.jsonl").write_text('{"input": "a", "reference": "b"}\n')),
               "tasks", "new", "smoke_choice", "--from", "{tmp}/rows.jsonl"),
        r"task 'smoke_choice' already exists \(.*smoke_choice.yaml\)"),
    "custom task named like an lm-eval task": (
        _after(lambda w: (w.copy("tasks"), (w.tmp / "rows.jsonl").write_text('{"input": "a", "reference": "b"}\n')),
               "tasks", "new", "gsm8k", "--from", "{tmp}/rows.jsonl", "--force"),
        r"task 'gsm8k' already exists \(lm-eval's built-in tasks\)"),
    # Half-written state
    "a foreign database with a runs table": (_after(_foreign, "eval", "-p", "fake", "--db", "{db}"),
                                             "is not a lockin-harness database"),
    "a foreign database, read": (_after(_foreign, "runs", "list", "--db", "{db}"), "is not a lockin-harness database"),
    "merge a corrupt shard": (_after(_corrupt_shard, "merge", "{got}", "--db", "{db}"),
                              "samples.parquet is not a readable Parquet file"),
    "report into a directory": (_after(_seeded_frozen, *REPORT, "-o", "{tmp}"), "is a directory"),
    "report into an unwritable folder": (_after(_unwritable_folder, *REPORT, "-o", "{got}"),
                                         "cannot write the report"),
    # Exit codes
    "more processes than docs": (_static("eval", "-p", "fake", "-t", "smoke_choice", "--processes", "2",
                                         "--limit", "1"), "--limit 1 leaves some of the 2 processes without docs"),
}


@pytest.mark.parametrize("name", list(MORE))
def test_more_bad_input(world: World, name: str) -> None:  # noqa: F811
    make_args, pattern = MORE[name]
    seen: dict[str, list[str]] = {}

    def prepared(w: World) -> list[str]:
        args = make_args(w)
        seen["before"] = _listing(w.tmp)
        return args

    check_case(world, prepared, pattern)
    assert _listing(world.tmp) == seen["before"], "the command left files behind or changed them"


def _listing(folder: Path) -> list[str]:
    return sorted(f"{p.relative_to(folder)} {p.stat().st_size if p.is_file() else '/'}" for p in folder.rglob("*"))


def test_help_text_keeps_its_brackets() -> None:
    result = subprocess.run([sys.executable, "-m", "harness", "eval", "--help"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0
    assert "Profile name in providers/ [default: smollm2]." in " ".join(result.stdout.split())


def test_a_report_named_md_keeps_its_html_twin(world: World, tmp_path: Path) -> None:  # noqa: F811
    world.seeded()
    out = world.tmp / "review.md"
    result = subprocess.run([sys.executable, "-m", "harness", "report", "-b", "fake", "-c", "fake", "-o", str(out)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, **world.env})
    assert result.returncode == 0, result.stderr
    html, markdown = out.with_suffix(".html").read_text(), out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and markdown.splitlines()[1].startswith("#")
    assert _sha(out) != _sha(out.with_suffix(".html"))
