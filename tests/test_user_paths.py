"""Paths a new user walks that used to go wrong: data shown as markup, crashed runs that could not be
found or looked alive, Ctrl-C in the first seconds, custom tasks missing from the list, and speed
reported for a run that generated nothing. Driven through the CLI against real parts."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.checks import assert_sound, one_error_line, query
from tests.conftest import run_harness, start_harness
from tests.servers import ScriptedServer

MARKUP = "[/INST] [bold]x[/bold] :x: [red]"


def test_stored_text_is_printed_as_text(isolated_runs: Path, profiles: Path) -> None:
    text = (profiles / "fake.toml").read_text()
    (profiles / "brackets.toml").write_text(re.sub(r"replies = .*", f'replies = ["{MARKUP}"]', text))
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    made = run_harness("eval", "-p", "brackets", "-t", "smoke_choice", "--limit", "2", env=env)
    assert made.returncode == 0, made.stderr
    shown = run_harness("sql", "select distinct response as \"[bold]response\" from generations", env=env)
    assert shown.returncode == 0, shown.stderr
    assert MARKUP in shown.stdout and "[bold]response" in shown.stdout
    run_id = query(isolated_runs / "harness.duckdb", "select run_id from runs")[0][0]
    for command in (("runs", "show", run_id), ("runs", "list"), ("sql", "select 1 as x", "-f", "csv")):
        result = run_harness(*command, env=env)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def _kill_mid_run(db: Path, args: list[str]) -> str:
    proc = start_harness("eval", *args)
    try:
        deadline = time.monotonic() + 120
        while not (db.exists() and query(db, "select count(*) from generations")[0][0] >= 1):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    return str(query(db, "select run_id from runs")[0][0])


def test_a_killed_run_started_with_overrides_is_found_and_shown_as_crashed(isolated_runs: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    with ScriptedServer(delay_s=1.0) as server:
        base = ["-p", "local-openai", "-t", "smoke_choice"]
        run_id = _kill_mid_run(db, [*base, "--base-url", server.base_url, "--model", "scripted"])
        listed = run_harness("runs", "list", "-f", "csv")
        assert re.search(rf"^{run_id},local-openai,adhoc,crashed,", listed.stdout, re.M), listed.stdout
        # The user names the provider and suite, not the overrides the run was started with.
        resumed = run_harness("eval", "--resume", "latest", *base)
        assert resumed.returncode == 0, resumed.stderr
    assert query(db, "select run_id, status, resumes from runs") == [(run_id, "complete", 1)]
    assert query(db, "select count(distinct doc_id) from generations") == [(24,)]


def test_overrides_given_again_must_match_the_run(isolated_runs: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    with ScriptedServer(delay_s=1.0) as server:
        base = ["-p", "local-openai", "-t", "smoke_choice"]
        _kill_mid_run(db, [*base, "--base-url", server.base_url, "--model", "scripted"])
        other = run_harness("eval", "--resume", "latest", *base, "--base-url", server.base_url, "--model", "other")
    # `latest` finds the killed run whatever was given; a conflicting override is refused, naming both.
    assert other.returncode == 2 and "ran with --model scripted, not --model other" in one_error_line(other)


@pytest.mark.parametrize("after_s", [0.2, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
def test_ctrl_c_in_the_first_seconds_is_an_interrupt(after_s: float, isolated_runs: Path, profiles: Path) -> None:
    """From start-up (imports, migrations, the run row) into generation: always exit 130, never a
    traceback or a 'failed' run."""
    text = (profiles / "fake.toml").read_text().replace("[fake]", "[fake]\ndelay_ms = 300")
    (profiles / "slow.toml").write_text(text)  # 24 docs take over 7 s: the run is never over first
    db = isolated_runs / "harness.duckdb"
    proc = start_harness("eval", "-p", "slow", "-t", "smoke_choice", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    time.sleep(after_s)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    # 130, or ended by SIGINT itself once the one line is out (what a shell also reports as 130):
    # Python re-raises SIGINT at exit when an interrupt passed through some library's C-level eval.
    assert proc.returncode in (130, -signal.SIGINT), stderr
    line = one_error_line(subprocess.CompletedProcess(proc.args, 130, "", stderr))
    assert "interrupted" in line and "RuntimeError" not in line
    if db.exists():
        assert query(db, "select count(*) from runs where status not in ('interrupted')") == [(0,)]
        assert_sound(db)


def test_tasks_list_shows_custom_tasks(tasks: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "Say hi", "reference": "hi"}\n')
    env = {"HARNESS_TASKS_DIR": str(tasks)}
    assert run_harness("tasks", "new", "team_faq", "--from", str(rows), env=env).returncode == 0
    listed = run_harness("tasks", "list", "-f", "csv", env=env)
    assert "(custom),team_faq," in listed.stdout


def test_a_cached_run_reports_no_generation_speed(isolated_runs: Path) -> None:
    first = run_harness("eval", "-p", "fake", "-t", "smoke_choice")
    assert "generated tokens/s" in first.stdout
    cached = run_harness("eval", "-p", "fake", "-t", "smoke_choice")
    assert cached.returncode == 0 and "0 provider calls" in cached.stdout
    assert "tokens/s" not in cached.stdout


def test_runs_agreement_shows_shares(isolated_runs: Path) -> None:
    for _ in range(2):
        assert run_harness("eval", "-p", "fake", "-t", "smoke_choice", "--no-cache").returncode == 0
    first, second = (r[0] for r in query(isolated_runs / "harness.duckdb", "select run_id from runs order by all"))
    table = run_harness("runs", "agreement", first, second)
    assert table.returncode == 0 and "100.0% (24/24)" in table.stdout
    rows = json.loads(run_harness("runs", "agreement", first, second, "-f", "json").stdout)
    assert rows == [{"task": "smoke_choice", "n": 24, "same_response": 24, "same_filtered": 24, "same_score": 24,
                     "same_response_share": 1.0, "same_filtered_share": 1.0, "same_score_share": 1.0}]


def test_builtin_task_names_are_indexed_once_and_never_trusted_to_pass(session_cache: Path) -> None:
    """An unknown name is refused from a kept index of lm-eval's built-ins (indexing them is the slow
    part); the index can only speed a refusal: a name it lists still has to load."""
    first = run_harness("eval", "-p", "fake", "-t", "no_such_task")
    assert first.returncode == 2 and "unknown task 'no_such_task'" in one_error_line(first)
    (index,) = (session_cache / "lm-eval-tasks").glob("*.json")
    names = set(json.loads(index.read_text()))
    assert {"gsm8k", "hellaswag", "mmlu"} <= names and "smoke_choice" not in names
    index.write_text(json.dumps(sorted(names | {"no_such_task"})))  # a stale or tampered index
    try:
        again = run_harness("eval", "-p", "fake", "-t", "no_such_task")
        assert again.returncode == 2 and "unknown task 'no_such_task'" in one_error_line(again)
    finally:
        index.write_text(json.dumps(sorted(names)))


def test_debug_shows_the_traceback(isolated_runs: Path) -> None:
    plain = run_harness("eval", "-p", "../evil")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = run_harness("--debug", "eval", "-p", "../evil")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "HarnessError" in debug.stderr


def test_an_interrupt_a_library_wrapped_is_still_an_interrupt() -> None:
    """Python 3.11 wraps a Ctrl-C that lands while an imported class is set up in RuntimeError('Error
    calling __set_name__ ...'); that is an interrupt (exit 130), not a bug (exit 1)."""
    from harness.cli.app import _caused_by_interrupt

    class Field:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    with pytest.raises(RuntimeError) as wrapped:
        type("Model", (), {"field": Field()})
    assert _caused_by_interrupt(wrapped.value)
    assert not _caused_by_interrupt(RuntimeError("a bug"))
