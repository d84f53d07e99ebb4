"""The comparison SQL and `harness compare` on real DuckDB files: which runs pair up, what the macros show
before and after compare stored its exact statistics, the cases the statistics must get right at small n,
and the CI gate."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from bench.synthetic import add_comparison, add_run, add_samples, open_store
from harness.analysis import gaps, stats
from harness.analysis.compare import CompareOptions, compare, record
from harness.store.migrations import MIGRATIONS, migrate
from tests.checks import one_error_line
from tests.conftest import run_harness


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return open_store()


def _gap_row(con: duckdb.DuckDBPyConnection, query: str = "select * from quality_gap('B', 'C')") -> dict:
    cursor = con.execute(query)
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    assert len(rows) == 1
    return rows[0]


def _store(path: Path, baseline: np.ndarray, candidate: np.ndarray) -> Path:
    con = open_store(path)
    add_comparison(con, baseline, candidate)
    con.close()
    return path


def _sql_rows(db: Path, margin: float = 0.05) -> dict[str, dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute("select * from migration('B', 'C', margin := ?)", [margin])
        columns = [d[0] for d in cursor.description]
        return {r[1]: dict(zip(columns, r, strict=True)) for r in cursor.fetchall()}


_SHARED = ("n", "gap", "ci_low", "ci_high", "p_value", "p_noninferior", "p_inferior", "verdict", "min_n",
           "samples_needed", "method")

# Must-show cases: (baseline scores, candidate scores, verdict of the one task).
_CASES = {
    "identical answers, n = 80": (np.ones(80), np.ones(80), "feasible"),
    "lopsided, n = 4": (np.ones(4), np.zeros(4), "too few documents"),
    "all lost, n = 40": (np.ones(40), np.zeros(40), "infeasible"),
    "identical continuous answers, n = 80": (np.full(80, 0.37), np.full(80, 0.37), "feasible"),
    "identical answers, n = 40 (not enough for 5 points)": (np.ones(40), np.ones(40), "inconclusive"),
}


@pytest.mark.parametrize("case", list(_CASES), ids=list(_CASES))
def test_compare_and_the_sql_macros_agree_on_the_exact_verdict(case: str, tmp_path: Path) -> None:
    baseline, candidate, verdict = _CASES[case]
    db = _store(tmp_path / "sim.duckdb", baseline[None, :], candidate[None, :])
    before = _sql_rows(db)
    assert before["sim_00000"]["verdict"] == "not computed: run harness compare" == gaps.NOT_COMPUTED
    assert before["sim_00000"]["ci_low"] is None and before["sim_00000"]["gap"] == pytest.approx(
        float(np.mean(candidate - baseline)))
    result = compare(db, CompareOptions("B", "C"))
    assert _sql_rows(db)["sim_00000"]["verdict"] == gaps.NOT_COMPUTED  # computing alone writes nothing
    record(db, result)
    compared = {r["task"]: r for r in result.rows}
    assert compared["sim_00000"]["verdict"] == verdict
    # One task: OVERALL is that task, with the same method.
    assert compared["OVERALL"]["verdict"] == verdict
    after = _sql_rows(db)
    for task in ("sim_00000", "OVERALL"):
        assert {k: after[task][k] for k in _SHARED} == {k: compared[task][k] for k in _SHARED}
        row = after[task]
        assert -1.0 <= row["ci_low"] <= row["gap"] <= row["ci_high"] <= 1.0
        # The verdict never contradicts the p-values printed beside it.
        assert (row["verdict"] == "feasible") == (row["p_noninferior"] <= 0.025)
        assert (row["verdict"] == "infeasible") == (row["p_inferior"] <= 0.025)
    if verdict == "too few documents":
        assert compared["sim_00000"]["min_n"] > 4 and compared["sim_00000"]["samples_needed"] >= 6
        shown = run_harness("compare", "-b", "B", "-c", "C", "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert f"at least {compared['sim_00000']['min_n']} needed" in shown.stdout
        assert "too few docs" in shown.stdout


def test_a_stored_result_stands_only_for_its_margin_and_runs(tmp_path: Path) -> None:
    db = _store(tmp_path / "sim.duckdb", np.ones((1, 80)), np.ones((1, 80)))
    record(db, compare(db, CompareOptions("B", "C", margin=0.05)))
    assert _sql_rows(db, 0.05)["sim_00000"]["verdict"] == "feasible"
    assert _sql_rows(db, 0.02)["sim_00000"]["verdict"] == gaps.NOT_COMPUTED
    # A newer candidate run is another comparison: its rows are not computed until compared.
    with duckdb.connect(str(db)) as con:
        add_run(con, "C", "run-C-later", ["sim_00000"], 80, finished="2026-02-01 00:00:00")
        add_samples(con, "run-C-later", ["sim_00000"], np.zeros((1, 80)))
    assert _sql_rows(db, 0.05)["OVERALL"]["verdict"] == gaps.NOT_COMPUTED
    record(db, compare(db, CompareOptions("B", "C", margin=0.05)))
    assert _sql_rows(db, 0.05)["OVERALL"]["verdict"] == "infeasible"


def test_overall_never_says_more_than_its_tasks_allow(tmp_path: Path) -> None:
    """Swapped sides, unequal task sizes: every task inconclusive means OVERALL cannot be feasible
    (the old weighted-normal OVERALL read 'feasible' with p 4e-06 here)."""
    rng = np.random.default_rng(11)
    b = [rng.uniform(0.3, 0.9, n) for n in (2, 3)]
    c = [np.clip(x + rng.uniform(0.4, 0.9, len(x)), 0, 1) for x in b]
    db = tmp_path / "sim.duckdb"
    con = open_store(db)
    for provider, scores in (("B", b), ("C", c)):
        for i, row in enumerate(scores):
            add_run(con, provider, f"run-{provider}-{i}", [f"t{i}"], len(row))
            add_samples(con, f"run-{provider}-{i}", [f"t{i}"], row[None, :])
    con.close()
    rows = {r["task"]: r for r in compare(db, CompareOptions("B", "C")).rows}
    assert {rows[t]["verdict"] for t in ("t0", "t1")} == {"too few documents"}
    assert rows["OVERALL"]["verdict"] == "too few documents" and rows["OVERALL"]["p_noninferior"] > 0.025
    assert rows["OVERALL"]["n"] == 5 and rows["OVERALL"]["min_n"] > 3
    assert rows["OVERALL"]["ci_low"] >= -1 and rows["OVERALL"]["ci_high"] <= 1


def test_fail_on_gates_a_ci_job(tmp_path: Path) -> None:
    lost = _store(tmp_path / "lost.duckdb", np.ones((2, 40)), np.r_[np.ones((1, 40)), np.zeros((1, 40))])
    kept = _store(tmp_path / "kept.duckdb", np.ones((1, 80)), np.ones((1, 80)))
    few = _store(tmp_path / "few.duckdb", np.ones((1, 4)), np.zeros((1, 4)))
    gated = run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "infeasible", "--db", str(lost))
    assert gated.returncode == 1 and "--fail-on infeasible: sim_00001 is infeasible" in gated.stderr
    assert run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "infeasible", "--db", str(kept)).returncode == 0
    assert run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "infeasible", "--db", str(few)).returncode == 0
    strict = run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "inconclusive", "--db", str(few))
    assert strict.returncode == 1 and "too few documents" in strict.stderr
    assert run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "inconclusive", "--db", str(kept)).returncode == 0
    wrong = run_harness("compare", "-b", "B", "-c", "C", "--fail-on", "worse", "--db", str(kept))
    assert wrong.returncode == 2 and "--fail-on takes 'infeasible' or 'inconclusive'" in one_error_line(wrong)


def test_latest_complete_run_is_compared(con: duckdb.DuckDBPyConnection) -> None:
    ones, zeros = np.ones((1, 20)), np.zeros((1, 20))
    add_comparison(con, ones, ones)
    add_run(con, "C", "run-C-later", ["sim_00000"], 20, finished="2026-02-01 00:00:00")
    add_samples(con, "run-C-later", ["sim_00000"], zeros)
    row = _gap_row(con)
    assert (row["candidate_run"], row["gap"]) == ("run-C-later", -1.0)
    con.execute("update runs set status = 'interrupted' where run_id = 'run-C-later'")
    assert _gap_row(con)["candidate_run"] == "run-C"
    # A side may be a run id, e.g. two runs of one provider.
    assert _gap_row(con, "select * from quality_gap('run-C', 'B')")["gap"] == 0


def test_migration_0003_marks_one_primary_score_per_task_in_old_stores(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    try:
        migrate_first = MIGRATIONS[:2]
        con.execute("create table schema_migrations (id integer primary key, name varchar not null unique,"
                    " applied_at timestamp default current_timestamp)")
        for i, (name, fn) in enumerate(migrate_first, 1):
            fn(con)
            con.execute("insert into schema_migrations (id, name) values (?, ?)", [i, name])
        for metric, filter_name in (("exact_match", "strict"), ("exact_match", "flexible"), ("bleu", "none")):
            con.execute("insert into task_scores (run_id, task, metric, filter, value) values ('r', 't', ?, ?, 0.5)",
                        [metric, filter_name])
        migrate(con, path)
        primary = con.execute("select metric, filter from task_scores where is_primary").fetchall()
        assert primary == [("bleu", "none")]
        assert con.execute("select count(*) from schema_migrations").fetchone() == (len(MIGRATIONS),)
    finally:
        con.close()


def test_python_helpers() -> None:
    assert stats.wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    low, high = stats.wilson(7, 10)  # type: ignore[misc]
    assert (low, high) == (pytest.approx(0.3968, abs=1e-4), pytest.approx(0.8922, abs=1e-4))
    assert stats.holm([0.01, 0.04, 0.03, None]) == [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06), None]
    b, c = [1.0] * 30 + [0.0] * 30, [1.0] * 25 + [0.0] * 35
    first, again = stats.paired_bootstrap(b, c, 500, seed=9), stats.paired_bootstrap(b, c, 500, seed=9)
    assert first == again and first is not None
    assert first.gap_ci[0] < -5 / 60 < first.gap_ci[1]
    assert first.retained_ci is not None and first.retained_ci[0] < 25 / 30 < first.retained_ci[1]
