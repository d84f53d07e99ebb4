"""Stored text reaches the terminal as text: escape sequences a model (or an imported log) put into an
answer are shown escaped by every printer, never acted on; and a run's provenance reads in full at
80 columns. Real CLI, real DuckDB, the fake provider."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.checks import execute, query
from tests.conftest import run_harness

OSC8_LINK = "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"
OSC0_TITLE = "\x1b]0;pwned\x07"
EVIL = [OSC8_LINK, OSC0_TITLE, "\x1b[31mred", "\x9b31m", "A\x7f"]
# ESC, BEL, the one-byte CSI and DEL: none may reach stdout or stderr raw.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _profile(profiles: Path, name: str, replies: list[str]) -> None:
    text = (profiles / "fake.toml").read_text()
    replies_line = f"replies = {json.dumps(replies)}"  # JSON string escapes are TOML's too
    (profiles / f"{name}.toml").write_text(re.sub(r"replies = .*", lambda _: replies_line, text))


def _clean(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-2000:]
    for stream in (result.stdout, result.stderr):
        assert not RAW.search(stream), repr(RAW.findall(stream)[:5])
    return result.stdout


@pytest.fixture
def evil_db(isolated_runs: Path, profiles: Path) -> dict[str, str]:
    """A store with a run of the fake provider, then two runs of 'evil': first right-ish plain answers,
    then escape sequences (so drift flips show them); a run field planted with one too."""
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    _profile(profiles, "evil", ["A", "B", "C", "D", "E"])
    for provider in ("fake", "evil"):
        assert run_harness("eval", "-p", provider, "-t", "smoke_choice", env=env).returncode == 0
    _profile(profiles, "evil", EVIL)
    made = run_harness("eval", "-p", "evil", "-t", "smoke_choice", env=env)
    assert made.returncode == 0, made.stderr
    db = isolated_runs / "harness.duckdb"
    run_id = query(db, "select run_id from runs where provider = 'evil' order by started_at desc limit 1")[0][0]
    execute(db, "update runs set error = ? where run_id = ?", params=[OSC0_TITLE + "\x1b[2J", run_id])
    return {**env, "run_id": run_id}


def test_stored_escape_sequences_are_shown_escaped(evil_db: dict[str, str], tmp_path: Path) -> None:
    env = {"HARNESS_PROVIDERS_DIR": evil_db["HARNESS_PROVIDERS_DIR"]}
    sql = "select distinct response from generations where response not in ('A', 'B', 'C', 'D', 'E')"
    table = _clean(run_harness("sql", sql, env=env))
    assert "\\x1b]0;pwned\\x07" in table and "\\x9b31m" in table and "A\\x7f" in table
    csv = _clean(run_harness("sql", sql, "-f", "csv", env=env))
    assert "\\x1b]8;;http://evil" in csv
    as_json = _clean(run_harness("sql", sql, "-f", "json", env=env))
    assert set(EVIL) <= {r["response"] for r in json.loads(as_json)}  # escaped, yet the same text
    shown = _clean(run_harness("runs", "show", evil_db["run_id"], env=env))
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in shown
    _clean(run_harness("runs", "show", evil_db["run_id"], "-f", "json", env=env))
    _clean(run_harness("compare", "-b", "fake", "-c", "evil", env=env))
    drift = _clean(run_harness("drift", "-p", "evil", "-s", "adhoc", env=env))
    assert "flipped:" in drift and "\\u001b" in drift  # the flipped answers are quoted, escaped
    _clean(run_harness("report", "-b", "fake", "-c", "evil", "-o", str(tmp_path / "review.html"), env=env))
    markdown = (tmp_path / "review.md").read_text()
    assert not RAW.search(markdown.replace("\n", "")), repr(RAW.findall(markdown)[:5])
    assert "\\x1b" in markdown
    page = (tmp_path / "review.html").read_text()
    assert not RAW.search(page.replace("\n", "")), repr(RAW.findall(page)[:5])
    assert "\\x1b" in page  # shown, as in the Markdown twin


def test_runs_show_fits_80_columns(isolated_runs: Path) -> None:
    assert run_harness("eval", "-p", "fake", "-t", "smoke_choice").returncode == 0
    run_id = query(isolated_runs / "harness.duckdb", "select run_id from runs")[0][0]
    result = run_harness("runs", "show", run_id, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    fields = query(isolated_runs / "harness.duckdb", "select column_name from information_schema.columns "
                                                     "where table_name = 'runs'")
    for (name,) in fields:
        assert re.search(rf"^{name}\s", result.stdout, re.M), name
    git_sha = query(isolated_runs / "harness.duckdb", "select git_sha from runs")[0][0]
    if git_sha:
        assert git_sha in result.stdout  # a 40-character value, whole
    # An error line quoting what the user typed escapes it too.
    unknown = run_harness("runs", "show", "no\x1b]0;pwned\x07run")
    assert unknown.returncode == 2 and "no\\x1b]0;pwned\\x07run" in unknown.stderr
    assert not RAW.search(unknown.stderr.replace("\n", ""))
