"""The CLI as a user meets it: real child processes, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import typer.main

from harness.cli import app
from tests.checks import one_error_line as _one_error_line
from tests.conftest import ROOT, run_harness


def _no_complete_run(runs: Path) -> None:
    db = runs / "harness.duckdb"
    if db.exists():
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute("select count(*) from runs where status = 'complete'").fetchone() == (0,)
        finally:
            con.close()


# Bad arguments, profiles, suites, tasks and database paths: see the matrix in test_bad_input.py.


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
    assert shown.returncode == 0
    document = json.loads(shown.stdout)  # one JSON document, not two back to back
    assert document["run"]["run_id"] == run_id and len(document["scores"]) == 3
    as_csv = run_harness("runs", "show", run_id, "--format", "csv").stdout.splitlines()
    assert as_csv[0].startswith("run_id,task,metric") and len(as_csv) == 4
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
