"""Several processes on one database file: readers while an eval writes, and two evals at once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.checks import assert_sound, query
from tests.conftest import run_harness, start_harness


def _slow(profiles: Path, name: str, delay_ms: int) -> None:
    text = (profiles / "fake.toml").read_text().replace("[fake]", f"[fake]\ndelay_ms = {delay_ms}")
    (profiles / f"{name}.toml").write_text(text)


def test_sql_and_runs_list_work_while_an_eval_writes(isolated_runs: Path, profiles: Path) -> None:
    """`harness sql` and `harness runs list` in other processes, again and again during a run: every
    call succeeds, and they see the run 'running' with some but not all generations committed."""
    _slow(profiles, "slow", delay_ms=100)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    writer = start_harness("eval", "-p", "slow", "-t", "smoke_choice", env=env)
    counts, statuses = [], []
    while writer.poll() is None:
        sql = run_harness("sql", "select count(*) as n from generations", "-f", "json", env=env)
        runs = run_harness("runs", "list", "-f", "json", env=env)
        if "no database" in sql.stderr:  # the eval has not created the file yet
            continue
        assert sql.returncode == 0, sql.stderr
        assert runs.returncode == 0, runs.stderr
        counts.append(json.loads(sql.stdout)[0]["n"])
        statuses += [row["status"] for row in json.loads(runs.stdout)]
    _, stderr = writer.communicate()
    assert writer.returncode == 0, stderr
    assert any(0 < n < 24 for n in counts), counts
    assert "running" in statuses, statuses
    assert query(isolated_runs / "harness.duckdb", "select status from runs") == [("complete",)]


def test_two_evals_on_one_database_both_complete(isolated_runs: Path, profiles: Path) -> None:
    """Each eval holds the file only for short transactions and waits for the other's: both finish,
    each with all its generations, and the file is sound."""
    _slow(profiles, "slow-a", delay_ms=60)
    _slow(profiles, "slow-b", delay_ms=40)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    evals = [start_harness("eval", "-p", name, "-s", "smoke", env=env) for name in ("slow-a", "slow-b")]
    for proc in evals:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    db = isolated_runs / "harness.duckdb"
    assert query(db, "select provider, status, n_requests from runs order by provider") == [
        ("slow-a", "complete", 72), ("slow-b", "complete", 72)]
    overlapping = query(db, "select count(*) from runs a join runs b on a.run_id < b.run_id"
                            " where a.started_at < b.finished_at and b.started_at < a.finished_at")
    assert overlapping == [(1,)]  # they really ran at the same time
    assert query(db, "select count(*) from generations group by run_id") == [(72,), (72,)]
    assert query(db, "select count(*) from samples")[0][0] == 144
    assert_sound(db)
