"""Long work says what it is doing when nobody watches a terminal (cron, CI, a log file): plain
progress lines instead of a bar, and one line while another process holds the database."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from tests.conftest import run_harness, start_harness


def test_an_eval_without_a_terminal_prints_progress_lines(isolated_runs: Path, profiles: Path) -> None:
    text = (profiles / "fake.toml").read_text().replace("[fake]", "[fake]\ndelay_ms = 200")
    (profiles / "slow.toml").write_text(text)  # 24 docs, about 5 s
    env = {"HARNESS_PROVIDERS_DIR": str(profiles), "HARNESS_PROGRESS_EVERY_S": "1"}
    result = run_harness("eval", "-p", "slow", "-t", "smoke_choice", env=env)
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^eval slow on smoke_choice: (\d+)/24 docs, 0 errors", result.stderr, re.M)
    assert len(lines) >= 2, result.stderr  # stderr is a pipe here: no bar, lines
    assert [int(n) for n in lines] == sorted(int(n) for n in lines)
    assert result.stderr.rstrip().endswith("24/24 docs, 0 errors, generation done")
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_a_short_eval_stays_quiet(isolated_runs: Path) -> None:
    result = run_harness("eval", "-p", "fake", "-t", "smoke_choice")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_waiting_for_the_lock_is_said_once(isolated_runs: Path) -> None:
    assert run_harness("eval", "-p", "fake", "-t", "smoke_choice", "--limit", "2").returncode == 0
    db = isolated_runs / "harness.duckdb"
    holder = duckdb.connect(str(db))  # this process holds the file, as a running eval would
    process = start_harness("runs", "list", "-f", "csv")
    try:
        first = process.stderr.readline()  # type: ignore[union-attr]
        assert first.startswith("waiting for the database lock") and str(db) in first, first
        time.sleep(3)  # still held: the wait must not be said again
    finally:
        holder.close()
    _, rest = process.communicate(timeout=300)
    assert process.returncode == 0, rest
    assert not any(line.startswith("waiting for the database lock") for line in rest.splitlines()), rest
