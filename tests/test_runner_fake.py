"""Runner and store with the in-package fake provider (fast; no model)."""

from pathlib import Path

import duckdb

from harness.run.runner import EvalOptions, run_eval
from harness.store import Store


def _db(runs: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(runs / "harness.duckdb"), read_only=True)


def test_fake_run_stores_every_sample(isolated_runs: Path) -> None:
    outcome = run_eval(EvalOptions(provider="fake", suite="smoke"))
    assert outcome.status == "complete"
    con = _db(isolated_runs)
    try:
        assert con.execute("select status, n_requests from runs").fetchall() == [("complete", 72)]
        assert con.execute("select count(*) from samples").fetchone() == (72,)
        assert con.execute("select count(*) from generations").fetchone() == (72,)
        assert con.execute("select count(*) from samples where prompt = ''").fetchone() == (0,)
        # Stored task scores are the mean of the stored per-sample scores.
        rows = con.execute("""
            select t.task, t.value, avg(s.score) from task_scores t
            join samples s using (run_id, task, metric, filter) group by t.task, t.value""").fetchall()
        assert len(rows) == 3
        for task, value, mean in rows:
            assert abs(value - mean) < 1e-9, task
        # The fake replies "A"/"B"/"C"/"8"/"12"/...: a few are right by construction, so not all scores are 0.
        assert con.execute("select sum(score) from samples").fetchone()[0] > 0
    finally:
        con.close()


def test_second_run_is_a_new_row_with_the_same_scores(isolated_runs: Path) -> None:
    first = run_eval(EvalOptions(provider="fake", suite="smoke"))
    second = run_eval(EvalOptions(provider="fake", suite="smoke"))
    assert first.run_id != second.run_id
    con = _db(isolated_runs)
    try:
        scores = con.execute("""
            select a.task, a.value, b.value from task_scores a join task_scores b
            on a.task = b.task and a.run_id = ? and b.run_id = ?""", [first.run_id, second.run_id]).fetchall()
        assert len(scores) == 3 and all(x == y for _, x, y in scores)
        provenance = con.execute(
            "select lm_eval_version, python_version, profile_hash, suite_hash from runs").fetchall()
        assert len(provenance) == 2 and all(all(v for v in row) for row in provenance)
    finally:
        con.close()


def test_limit_and_task_selection(isolated_runs: Path) -> None:
    outcome = run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"], limit=5))
    assert outcome.n_requests == 5
    con = _db(isolated_runs)
    try:
        assert con.execute("select distinct task from samples").fetchall() == [("smoke_choice",)]
        assert con.execute("select suite, limit_docs from runs").fetchone() == ("adhoc", 5)
    finally:
        con.close()


_WATCHER = """
import sys, time, duckdb
path, until = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < until:
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            print(con.execute("select count(*) from generations").fetchone()[0], flush=True)
        finally:
            con.close()
    except duckdb.Error:
        pass
    time.sleep(0.2)
"""


def test_generations_are_written_while_the_run_goes(isolated_runs: Path, profiles: Path) -> None:
    """With a slow provider, generations reach the file before the run ends (short write transactions),
    and a reader in another process opens the database meanwhile."""
    import subprocess
    import sys

    text = (profiles / "fake.toml").read_text().replace("[fake]", "[fake]\ndelay_ms = 150")
    (profiles / "slow-fake.toml").write_text(text)
    with Store(isolated_runs / "harness.duckdb").connect():
        pass  # create the file so the watcher can open it from the start
    watcher = subprocess.Popen([sys.executable, "-c", _WATCHER, str(isolated_runs / "harness.duckdb"), "8"],
                               stdout=subprocess.PIPE, text=True)
    outcome = run_eval(EvalOptions(provider="slow-fake", tasks=["smoke_choice"], limit=24))
    seen = [int(line) for line in watcher.communicate(timeout=60)[0].split()]
    assert outcome.status == "complete"
    assert any(0 < n < 24 for n in seen), seen
