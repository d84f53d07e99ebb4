"""A failure is never a result: errored generations are not answers, and a run that mostly failed
does not feed a verdict. Driven through the CLI against a loopback server scripted to fail and the
fake provider; the database is a real DuckDB file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.checks import execute, one_error_line, query
from tests.conftest import run_harness
from tests.servers import ScriptedServer

# Fast retries so a dead server fails in well under a second per request.
SCRIPTED = ('kind = "openai"\nmodel = "m"\nbase_url = "{url}"\n[openai]\nmax_retries = 1\nbackoff_base_s = 0.01\n'
            'timeout_s = {timeout}\n'
            '[openness]\nclass = "proprietary"\nlicence = "proprietary"\nweights = false\ncode = false\ndata = false\n')


def _flaky(profiles: Path, name: str, fail_every: int) -> None:
    text = (profiles / "fake.toml").read_text().replace("[fake]", f"[fake]\nfail_every = {fail_every}")
    (profiles / f"{name}.toml").write_text(text)


@pytest.mark.parametrize("kind", ["always500", "badjson", "empty", "slow"])
def test_a_run_where_every_request_failed_ends_failed(kind: str, isolated_runs: Path, profiles: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    with ScriptedServer(always=kind) as server:
        (profiles / "down.toml").write_text(SCRIPTED.format(url=server.base_url, timeout=0.5))
        result = run_harness("eval", "-p", "down", "-t", "smoke_choice", "--limit", "4",
                             env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert re.search(r"run \S+ failed: 4 of 4 generations errored \(100%", line), line
    assert "--resume" in line and "commonest (4x)" in line
    run_id, status, n_errors, rate, error = query(db, "select run_id, status, n_errors, error_rate, error from runs")[0]
    assert (status, n_errors, rate) == ("failed", 4, 1.0)
    assert run_id in error and error in line
    # Nothing is lost: the errored generations and their samples are stored, marked as errors.
    assert query(db, "select count(*) from generations where error is not null") == [(4,)]
    assert query(db, "select count(*) from samples where error is null") == [(0,)]


def test_a_failed_run_resumes_once_the_server_answers(isolated_runs: Path, profiles: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    with ScriptedServer(always="always500") as server:
        (profiles / "down.toml").write_text(SCRIPTED.format(url=server.base_url, timeout=5))
        failed = run_harness("eval", "-p", "down", "-t", "smoke_choice", "--limit", "3", env=env)
        assert failed.returncode == 2
        command = re.search(r"`(harness eval --resume \S+)`", one_error_line(failed))
        assert command is not None
        server.always = None
        resumed = run_harness(*command.group(1).split()[1:], env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert query(db, "select status, n_errors, error_rate, error from runs") == [("complete", 0, 0.0, None)]


def test_errors_below_the_budget_complete_and_are_counted(isolated_runs: Path, profiles: Path) -> None:
    _flaky(profiles, "flaky", 3)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    refused = run_harness("eval", "-p", "flaky", "-t", "smoke_choice", env=env)
    assert refused.returncode == 2 and "over --max-error-rate 2%" in one_error_line(refused)
    allowed = run_harness("eval", "-p", "flaky", "-t", "smoke_choice", "--max-error-rate", "0.9", env=env)
    assert allowed.returncode == 0, allowed.stderr
    n_errors = query(isolated_runs / "harness.duckdb",
                     "select n_errors from runs where status = 'complete'")[0][0]
    assert n_errors > 0 and f"{n_errors} errored (not scored as answers)" in allowed.stdout


@pytest.fixture
def errored_pair(isolated_runs: Path, profiles: Path) -> tuple[Path, dict[str, str], int]:
    """`fake` and a `flaky` candidate (same replies, a third of its requests errored) on smoke_choice."""
    _flaky(profiles, "flaky", 3)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    assert run_harness("eval", "-p", "fake", "-t", "smoke_choice", env=env).returncode == 0
    result = run_harness("eval", "-p", "flaky", "-t", "smoke_choice", "--max-error-rate", "0.9", env=env)
    assert result.returncode == 0, result.stderr
    db = isolated_runs / "harness.duckdb"
    n_errors = query(db, "select n_errors from runs where provider = 'flaky'")[0][0]
    return db, env, n_errors


@pytest.mark.parametrize("command", [
    ["compare", "-b", "fake", "-c", "flaky"],
    ["risk", "-i", "fake", "-c", "flaky"],
    ["report", "-b", "fake", "-c", "flaky"],
])
def test_a_side_over_the_error_budget_is_refused(command: list[str], errored_pair: tuple, tmp_path: Path) -> None:
    _, env, _ = errored_pair
    extra = ["-o", str(tmp_path / "r.html")] if command[0] == "report" else []
    result = run_harness(*command, *extra, env=env)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert "the candidate's run" in line and "errors are not answers" in line and "--resume" in line
    assert not (tmp_path / "r.html").exists()


def test_errored_docs_leave_both_sides_of_the_pair(errored_pair: tuple) -> None:
    db, env, n_errors = errored_pair
    result = run_harness("compare", "-b", "fake", "-c", "flaky", "--max-error-rate", "0.9", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    task = next(r for r in json.loads(result.stdout)["rows"] if r["task"] == "smoke_choice")
    docs = query(db, "select count(*) from generations g join runs r using (run_id) where r.provider = 'fake'")[0][0]
    assert (task["candidate_errors"], task["baseline_errors"], task["errored_pairs"]) == (n_errors, 0, n_errors)
    assert task["n"] == docs - n_errors
    # Same replies on every answered doc: no gap at all once the errors stop voting.
    assert task["gap"] == 0 and task["candidate_mean"] == task["baseline_mean"]
    # The same from plain SQL, with the budget as a macro argument.
    sql = query(db, "select n, gap, errored_pairs from quality_gap('fake', 'flaky', max_error_rate := 0.9)")
    assert sql == [(docs - n_errors, 0.0, n_errors)]
    assert query(db, "select count(*) from quality_gap('fake', 'flaky')") == [(0,)]  # over 2%: no verdict
    table = run_harness("compare", "-b", "fake", "-c", "flaky", "--max-error-rate", "0.9", env=env)
    assert f"0/{n_errors}" in table.stdout


def test_latency_comes_from_answered_requests_only(isolated_runs: Path, profiles: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    assert run_harness("eval", "-p", "fake", "-t", "smoke_choice", env=env).returncode == 0
    _flaky(profiles, "flaky", 3)
    assert run_harness("eval", "-p", "flaky", "-t", "smoke_choice", "--max-error-rate", "0.9",
                       env=env).returncode == 0
    execute(db, "update generations set latency_ms = 1e6 where error is not null")
    p95 = query(db, "select candidate_p95_ms from migration('fake', 'flaky', max_error_rate := 0.9)"
                    " where task = 'OVERALL'")[0][0]
    assert p95 < 1e6


def test_the_report_shows_errors_beside_the_verdict(fake_runs: dict[str, Path], tmp_path: Path,
                                                    profiles: Path) -> None:
    """A candidate with 2 of 72 generations errored (2.8%): allowed by a 5% budget, and said so."""
    from tests.test_report import check_in_browser

    db = tmp_path / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    _flaky(profiles, "flaky", 25)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    made = run_harness("eval", "-p", "flaky", "--db", str(db), "--max-error-rate", "0.05", env=env)
    assert made.returncode == 0, made.stderr
    assert query(db, "select n_errors, n_requests from runs where provider = 'flaky'") == [(2, 72)]
    out = tmp_path / "review.html"
    refused = run_harness("report", "-b", "fake", "-c", "flaky", "-o", str(out), "--db", str(db), env=env)
    assert refused.returncode == 2 and "2.8%" in one_error_line(refused) and not out.exists()
    result = run_harness("report", "-b", "fake", "-c", "flaky", "-o", str(out), "--db", str(db),
                         "--max-error-rate", "0.05", env=env)
    assert result.returncode == 0, result.stderr
    dom = check_in_browser(out, tmp_path)
    verdict = re.search(r"<h3>flaky: <span class=\"verdict [\w-]+\">[^<]+</span> "
                        r"<span class=\"errors\">([^<]*)</span>", dom)
    assert verdict is not None, dom[:3000]
    assert verdict.group(1) == "2 errored on the candidate, 0 on the incumbent: 2 pairs left out"
    assert "(2 errored on the candidate, 0 on the incumbent: 2 pairs left out)" in out.with_suffix(".md").read_text()


def test_unsupported_features_score_zero_and_are_counted_not_excluded(fake_runs: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """'unsupported: <feature>' is lock-in, not an outage: the pair stays in, scored as given, counted."""
    db = tmp_path / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    candidate = query(db, "select run_id from runs where provider = 'fake2'")[0][0]
    execute(db, "update samples set error = 'unsupported: tools', score = 0 where run_id = ? and doc_id < 3",
            params=[candidate])
    rows = query(db, "select task, n, candidate_unsupported, errored_pairs from quality_gap('fake', 'fake2')"
                     " order by task")
    docs = dict(query(db, "select task, count(distinct doc_id) from samples where run_id = ? group by task",
                      [candidate]))
    assert rows and all(n == docs[task] and unsupported == 3 and errored == 0 for task, n, unsupported, errored in rows)
    execute(db, "update generations set error = 'unsupported: tools' where run_id = ? and doc_id < 3",
            params=[candidate])
    shown = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    total = 3 * len(rows)
    assert f"note: fake2 could not serve {total} requests (scored 0): unsupported: tools ({total})" in shown.stdout
    as_json = json.loads(run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(db), "-f", "json").stdout)
    assert as_json["unsupported"] == {"baseline": {}, "candidate": {"tools": total}}
