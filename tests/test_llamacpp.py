"""The API path end to end: llama.cpp's llama-server serving the embedded GGUF."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_harness
from tests.test_report import check_in_browser

pytestmark = pytest.mark.slow

# Measured on the smoke suite (72 docs), greedy, repeat_penalty 1.0 on the server: 63/72 (0.875)
# identical raw responses (arithmetic 20/24, strings 20/24, choice 23/24). llama.cpp's 4-bit
# kernels and transformers' dequantised fp32 weights break near-ties differently (elsewhere about
# 3 in 4 answers agree), so the floor sits three binomial standard deviations (~0.04 each at
# n=72) under the measurement: a drop below it means a real divergence, e.g. a template mismatch.
AGREEMENT_FLOOR = 0.75


def _latest_run(runs: Path, provider: str) -> str:
    con = duckdb.connect(str(runs / "harness.duckdb"), read_only=True)
    try:
        row = con.execute("select run_id from runs where provider = ? and status = 'complete'"
                          " order by started_at desc limit 1", [provider]).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_local_openai_profile_against_llamacpp(isolated_runs: Path, llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    result = run_harness("eval", "-p", "local-openai", "-s", "smoke", "--base-url", llamacpp_server.base_url,
                         "--model", "smollm2")
    assert result.returncode == 0, result.stderr[-2000:]
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from samples").fetchone() == (72,)
        timed = con.execute("select count(*) from generations where latency_ms > 0 and input_tokens > 0"
                            " and output_tokens > 0 and error is null").fetchone()[0]
        assert timed >= 65
        assert con.execute("select count(*) from generations where error is not null").fetchone() == (0,)
    finally:
        con.close()


def test_api_and_local_paths_agree_on_most_samples(isolated_runs: Path, llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    api = run_harness("eval", "-p", "llamacpp", "--base-url", llamacpp_server.base_url)
    assert api.returncode == 0, api.stderr[-2000:]
    local = run_harness("eval", "-p", "smollm2")
    assert local.returncode == 0, local.stderr[-2000:]
    run_api, run_local = _latest_run(isolated_runs, "llamacpp"), _latest_run(isolated_runs, "smollm2")
    shown = run_harness("runs", "agreement", run_local, run_api, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    n = sum(r["n"] for r in rows)
    same = sum(r["same_response"] for r in rows)
    print(f"agreement hf vs llama.cpp: {same}/{n} identical responses; per task: {rows}")
    assert n == 72
    assert same / n >= AGREEMENT_FLOOR
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        stored = con.execute("select sum(n), sum(same_response) from run_agreement where run_a = ? and run_b = ?",
                             [run_local, run_api]).fetchone()
    finally:
        con.close()
    assert stored == (n, same)
    _compare_matches_sql(run_local, run_api)
    _report_renders(isolated_runs)


def _report_renders(runs: Path) -> None:
    """The decision-review report from these two real runs renders in headless Chromium."""
    out = runs / "review.html"
    made = run_harness("report", "-b", "smollm2", "-c", "llamacpp", "-s", "smoke", "-o", str(out))
    assert made.returncode == 0, made.stderr
    dom = check_in_browser(out, runs)
    assert "llamacpp: " in dom
    assert re.search(r"\$[0-9.e-]+ → \$[0-9.e-]+", dom), "hardware-time cost for both sides"


def _compare_matches_sql(baseline: str, candidate: str) -> None:
    """`harness compare` and the SQL macro give the same numbers on two real runs of one model."""
    shown = run_harness("compare", "-b", baseline, "-c", candidate, "--margin", "0.1", "-f", "json")
    assert shown.returncode == 0, shown.stderr
    compared = json.loads(shown.stdout)
    assert compared["mismatches"] == []
    query = f"select * from migration('{baseline}', '{candidate}', margin := 0.1)"
    sql = run_harness("sql", query, "-f", "json")
    assert sql.returncode == 0, sql.stderr
    from_sql = json.loads(sql.stdout)
    assert [r["task"] for r in from_sql] == [r["task"] for r in compared["rows"]]
    assert len(from_sql) == 4  # three smoke tasks and OVERALL
    for mine, theirs in zip(compared["rows"], from_sql, strict=True):
        for column, value in theirs.items():
            # Floats to the last few bits: DuckDB's parallel sums may add in another order per query.
            expected = pytest.approx(value, rel=1e-12, abs=1e-15) if isinstance(value, float) else value
            assert mine[column] == expected, (column, mine["task"])
    print("compare hf (baseline) vs llama.cpp (candidate):",
          [(r["task"], r["gap"], r["ci_low"], r["ci_high"], r["verdict"]) for r in compared["rows"]])
