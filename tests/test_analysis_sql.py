"""The comparison SQL (migration 0003) against independent references: scipy, and hand-computed cases."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats as sp

from bench.synthetic import add_comparison, add_run, add_samples, open_store
from harness.analysis import stats
from harness.store.migrations import MIGRATIONS, migrate


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return open_store()


def _one(con: duckdb.DuckDBPyConnection, query: str) -> float:
    return con.execute(query).fetchone()[0]  # type: ignore[index]


@pytest.mark.parametrize("df", [1, 2, 4, 5, 9, 29, 99, 1000])
def test_t_quantile_matches_scipy(con: duckdb.DuckDBPyConnection, df: int) -> None:
    tolerance = 3e-4 if df < 10 else 1e-5
    assert _one(con, f"select lh_t975({df})") == pytest.approx(sp.t.ppf(0.975, df), abs=tolerance)


@pytest.mark.parametrize(("t", "df"), [(0.0, 3), (0.7, 1), (2.1, 2), (2.0, 29), (-3.3, 30), (4.0, 999), (1.5, 25000)])
def test_t_p_value_matches_scipy(con: duckdb.DuckDBPyConnection, t: float, df: int) -> None:
    assert _one(con, f"select lh_p_t({t}, {df})") == pytest.approx(2 * sp.t.sf(abs(t), df), abs=2e-5)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 6), (3, 10), (12, 12), (40, 61), (700, 760)])
def test_mcnemar_exact_in_sql_and_python_match_scipy(con: duckdb.DuckDBPyConnection, b: int, c: int) -> None:
    expected = sp.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
    assert _one(con, f"select lh_mcnemar_p({b}, {c})") == pytest.approx(expected, rel=1e-9)


def _gap_row(con: duckdb.DuckDBPyConnection, query: str = "select * from quality_gap('B', 'C')") -> dict:
    cursor = con.execute(query)
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    assert len(rows) == 1
    return rows[0]


def test_binary_gap_uses_agresti_min_interval(con: duckdb.DuckDBPyConnection) -> None:
    # 40 docs: 20 both right, 7 only the baseline right, 3 only the candidate right, 10 both wrong.
    b = np.array([1] * 20 + [1] * 7 + [0] * 3 + [0] * 10, dtype=float)
    c = np.array([1] * 20 + [0] * 7 + [1] * 3 + [0] * 10, dtype=float)
    add_comparison(con, b[None, :], c[None, :])
    row = _gap_row(con)
    assert (row["n"], row["baseline_only"], row["candidate_only"]) == (40, 7, 3)
    assert row["gap"] == pytest.approx(-0.1)
    # Agresti & Min (2005): add 0.5 to each cell; Wald interval on the adjusted table.
    centre = (3.5 - 7.5) / 42
    se = math.sqrt((7.5 + 3.5) - (3.5 - 7.5) ** 2 / 42) / 42
    assert row["ci_low"] == pytest.approx(centre - 1.959963984540054 * se)
    assert row["ci_high"] == pytest.approx(centre + 1.959963984540054 * se)
    assert row["p_value"] == pytest.approx(sp.binomtest(3, 10, 0.5).pvalue)
    assert row["retained"] == pytest.approx(0.575 / 0.675)
    assert row["method"] == "agresti-min+mcnemar"


def test_continuous_gap_uses_paired_t(con: duckdb.DuckDBPyConnection) -> None:
    rng = np.random.default_rng(7)
    b = rng.uniform(0, 1, 50)
    c = np.clip(b - 0.05 + rng.normal(0, 0.1, 50), 0, 1)
    add_comparison(con, b[None, :], c[None, :])
    row = _gap_row(con)
    low, high = sp.t.interval(0.95, 49, loc=np.mean(c - b), scale=sp.sem(c - b))
    assert row["gap"] == pytest.approx(np.mean(c - b))
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    assert row["p_value"] == pytest.approx(sp.ttest_rel(c, b).pvalue, abs=2e-5)
    assert row["method"] == "paired-t"


def _migration(con: duckdb.DuckDBPyConnection, margin: float) -> dict[str, dict]:
    cursor = con.execute("select * from migration('B', 'C', margin := ?)", [margin])
    columns = [d[0] for d in cursor.description]
    return {r[1]: dict(zip(columns, r, strict=True)) for r in cursor.fetchall()}


def test_verdicts_and_samples_needed(con: duckdb.DuckDBPyConnection) -> None:
    n = 400
    same = np.ones(n)
    worse = np.r_[np.ones(n - 120), np.zeros(120)]  # 30 points down: clearly infeasible at a 5-point margin
    add_comparison(con, np.stack([same, same]), np.stack([same, worse]))
    rows = _migration(con, 0.05)
    assert rows["sim_00000"]["verdict"] == "feasible"
    assert rows["sim_00001"]["verdict"] == "infeasible"
    assert rows["sim_00001"]["ci_high"] < -0.05
    # Samples needed: n * ((z_.975 + z_.8) * se / (gap + margin))^2 at the observed se and gap.
    row = rows["sim_00001"]
    expected = math.ceil(n * ((1.959963984540054 + 0.8416212335729143) * row["se"] / (row["gap"] + 0.05)) ** 2)
    assert row["samples_needed"] == expected
    overall = rows["OVERALL"]
    assert overall["gap"] == pytest.approx((0 + -0.3) / 2)  # equal suite weights
    assert overall["n"] == 2 * n


def test_inconclusive_when_the_interval_straddles_the_margin(con: duckdb.DuckDBPyConnection) -> None:
    rng = np.random.default_rng(3)
    b = (rng.uniform(size=60) < 0.6).astype(float)
    c = np.where(rng.uniform(size=60) < 0.8, b, 1 - b)
    add_comparison(con, b[None, :], c[None, :])
    row = _migration(con, 0.05)["sim_00000"]
    assert row["ci_low"] < -0.05 < row["ci_high"]
    assert row["verdict"] == "inconclusive"
    assert row["samples_needed"] > 60


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
