"""The CLI as a user meets it: real child processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import typer.main

from harness.cli import app
from tests.conftest import ROOT, run_harness

GOOD_OPENNESS = '[openness]\nclass = "open-source"\nlicence = "MIT"\nweights = true\ncode = true\ndata = true\n'


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def _no_complete_run(runs: Path) -> None:
    db = runs / "harness.duckdb"
    if db.exists():
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute("select count(*) from runs where status = 'complete'").fetchone() == (0,)
        finally:
            con.close()


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["eval", "-p", "nope"], "unknown provider 'nope'"),
        (["eval", "-p", "fake", "-s", "nope"], "unknown suite 'nope'"),
        (["eval", "-p", "fake", "-t", "no_such_task"], "unknown task 'no_such_task'"),
        (["sql", "select * from nowhere"], "no database|SQL error"),
        (["runs", "show", "nope"], "no database|no run"),
        (["sql", "select 1", "--format", "xml"], "unknown format"),
        (["eval", "-p", "fake", "-t", "gsm8k", "--limit", "2"], "need their data from the Hugging Face hub"),
    ],
)
def test_bad_arguments(isolated_runs: Path, args: list[str], pattern: str) -> None:
    result = run_harness(*args)
    assert result.returncode == 2
    assert re.search(pattern, _one_error_line(result))
    _no_complete_run(isolated_runs)


@pytest.mark.parametrize(
    ("profile", "pattern"),
    [
        ('kind = "fake"\nmodel = "m"\nbogus = 1\n' + GOOD_OPENNESS, "bogus: unknown key"),
        ('kind = "fake"\nmodel = "m"\n[fake]\ndelay_ms = "slow"\n' + GOOD_OPENNESS, "fake.delay_ms"),
        ('kind = "fake"\nmodel = [\n', "bad TOML"),
        ('kind = "martian"\nmodel = "m"\n' + GOOD_OPENNESS, "unknown provider kind 'martian'"),
    ],
)
def test_malformed_profile(isolated_runs: Path, profiles: Path, profile: str, pattern: str) -> None:
    (profiles / "broken.toml").write_text(profile)
    result = run_harness("eval", "-p", "broken", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 2
    assert re.search(pattern, _one_error_line(result))
    _no_complete_run(isolated_runs)


@pytest.mark.parametrize("where", ["under-a-file", "sysfs"])
def test_unwritable_runs_dir(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file, not a folder")
        runs = blocker / "runs"
    else:
        runs = Path("/sys/lockin-harness-runs")  # refuses mkdir even for root
    result = run_harness("eval", "-p", "fake", env={"HARNESS_RUNS_DIR": str(runs)})
    assert result.returncode == 2
    assert "cannot create folder" in _one_error_line(result)
    assert not runs.exists()


def test_eval_then_sql(isolated_runs: Path) -> None:
    result = run_harness("eval", "-p", "fake", "-s", "smoke")
    assert result.returncode == 0, result.stderr
    assert "smoke_arithmetic" in result.stdout and "exact_match" in result.stdout
    query = "select task, avg(score) as mean from samples group by task order by task"
    result = run_harness("sql", query, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["task"] for r in rows] == ["smoke_arithmetic", "smoke_choice", "smoke_strings"]
    assert all(0 <= r["mean"] <= 1 for r in rows)
    csv_out = run_harness("sql", query, "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "task,mean" and len(csv_out) == 4
    listed = run_harness("runs", "list", "--format", "json")
    run_id = json.loads(listed.stdout)[0]["run_id"]
    shown = run_harness("runs", "show", run_id, "--format", "json")
    assert shown.returncode == 0 and run_id in shown.stdout
    # Read-only: the SQL command cannot change the store.
    dropped = run_harness("sql", "drop table samples")
    assert dropped.returncode == 2
    assert run_harness("sql", "select count(*) as n from samples", "-f", "json").stdout.count('"n": 72') == 1


def _commands() -> list[tuple[str, typer.models.CommandInfo]]:
    out = [(c.name or "", c) for c in app.registered_commands]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        out += [(f"{group.name} {c.name}", c) for c in group.typer_instance.registered_commands]
    return out


def test_every_command_has_help_and_a_readme_example() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _commands()
    assert len(commands) >= 7
    click_app = typer.main.get_command(app)
    for name, info in commands:
        assert info.callback is not None and (info.callback.__doc__ or "").strip(), name
        assert "Example: harness " + name in info.callback.__doc__, name
        assert f"harness {name}" in readme, f"README has no example of `harness {name}`"
    assert click_app.help


def test_llama_without_weights_says_how_to_point_at_them(isolated_runs: Path) -> None:
    result = run_harness("eval", "-p", "llama", env={"LLAMA_MODEL_PATH": ""})
    assert result.returncode == 2
    line = _one_error_line(result)
    assert "meta-llama/Llama-3.2-1B-Instruct" in line and "LLAMA_MODEL_PATH" in line and "--model-path" in line
    _no_complete_run(isolated_runs)


def test_missing_model_path(isolated_runs: Path, tmp_path: Path) -> None:
    result = run_harness("eval", "-p", "llama", "--model-path", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "does not exist" in _one_error_line(result)
