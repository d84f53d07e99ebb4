"""`harness drift` refuses what is not drift, and stores nothing it refused: runs that asked other
questions (every kind the comparability guard of `harness compare` refuses), runs of two providers or
of an edited profile, a run that mostly failed (a loopback server failing most calls; `judge pairwise`
refuses that side too, before any judge call). A task with no answered pair is `no pairs`, never
`no significant change`, and fails `--fail-on regression`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.checks import execute, one_error_line, query
from tests.conftest import run_harness
from tests.servers import ScriptedServer
from tests.test_compare import MUTATIONS
from tests.test_errors_vote import SCRIPTED

# Beyond the guard's kinds: the same doc ids with other content (what a `--force` re-import leaves),
# and the profile asking for another model between the runs (an edit, not drift).
DRIFT_MUTATIONS = {
    **MUTATIONS,
    "doc set": "update samples set doc_hash = 'other' where run_id = $cand and task = 'smoke_choice' and doc_id = 0",
    "profile model": """insert into providers (profile_hash, name, kind, model, profile_json)
                        select profile_hash || '-edited', name, kind, 'fake-2', profile_json from providers
                        where profile_hash = (select profile_hash from runs where run_id = $cand);
                        update runs set profile_hash = profile_hash || '-edited' where run_id = $cand""",
}
EXPECTED = {kind: f"{kind} differs" for kind in MUTATIONS} | {
    "doc set": "doc set differs on smoke_choice (0 docs only in baseline, 0 only in candidate, 1 changed)",
    "profile model": "model 'fake' in", }


@pytest.fixture(scope="module")
def two_runs(fake_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fake twice (the later answers from the response cache, which does not matter here) and fake2 once."""
    db = tmp_path_factory.mktemp("drift") / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    result = run_harness("eval", "-p", "fake", "--db", str(db))
    assert result.returncode == 0, result.stderr[-1500:]
    return db


def _copy(two_runs: Path, tmp_path: Path) -> tuple[Path, str, str]:
    db = tmp_path / "copy.duckdb"
    shutil.copy(two_runs, db)
    earlier, later = (r[0] for r in query(db, "select run_id from runs where provider = 'fake' order by started_at"))
    return db, earlier, later


def _refused(db: Path, *args: str) -> str:
    result = run_harness("drift", "-p", "fake", "-s", "smoke", "--fail-on", "regression", *args, "--db", str(db))
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert query(db, "select count(*) from drift_checks") == [(0,)]
    return one_error_line(result)


@pytest.mark.parametrize("kind", sorted(DRIFT_MUTATIONS))
def test_drift_refuses_each_mismatch_and_stores_nothing(kind: str, two_runs: Path, tmp_path: Path) -> None:
    db, _, later = _copy(two_runs, tmp_path)
    for statement in DRIFT_MUTATIONS[kind].split(";"):
        execute(db, statement.replace("$cand", "?"), params=[later] * statement.count("$cand"))
    line = _refused(db)
    assert EXPECTED[kind] in line, line


def test_drift_refuses_runs_of_two_providers(two_runs: Path, tmp_path: Path) -> None:
    db, earlier, _ = _copy(two_runs, tmp_path)
    other = query(db, "select run_id from runs where provider = 'fake2'")[0][0]
    line = _refused(db, "--runs", earlier, "--runs", other)
    assert f"run {other} is of 'fake2', not 'fake'" in line and "harness compare" in line


def test_a_task_without_pairs_is_no_pairs_and_fails_the_gate(two_runs: Path, tmp_path: Path) -> None:
    """Every call of one task failed in the later run (a third of the run, allowed by the budget given)."""
    db, _, later = _copy(two_runs, tmp_path)
    for table in ("samples", "generations"):
        execute(db, f"update {table} set error = 'HTTP 503' where run_id = ? and task = 'smoke_choice'",
                params=[later])
    execute(db, "update runs set n_errors = 24, error_rate = 24 / 72 where run_id = ?", params=[later])
    assert "over --max-error-rate 2%" in _refused(db)
    args = ("drift", "-p", "fake", "-s", "smoke", "--max-error-rate", "0.5", "--db", str(db))
    gated = run_harness(*args, "--fail-on", "regression")
    assert gated.returncode == 1
    assert gated.stderr.strip().startswith("error: cannot tell whether smoke_choice regressed: no answered pairs")
    shown = run_harness(*args, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    verdicts = {r["task"]: (r["n"], r["verdict"]) for r in json.loads(shown.stdout)["rows"]}
    assert verdicts["smoke_choice"] == (0, "no pairs")
    assert all(v == (24, "no significant change") for task, v in verdicts.items() if task != "smoke_choice")
    # Only the tasks that measured something are stored (twice: the gated check and the shown one).
    assert query(db, "select task, count(*) from drift_checks group by task order by task") == [
        ("smoke_arithmetic", 2), ("smoke_strings", 2)]


def _traffic(path: Path, db: Path, questions: list[str], force: bool = False) -> None:
    lines = [{"messages": [{"role": "user", "content": q}], "reference": f"ok {q[-12:]}"} for q in questions]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_harness("traffic", "import", str(path), "--name", "nightly", "--db", str(db),
                         *(("--force",) if force else ()))
    assert result.returncode == 0, result.stderr


def test_a_forced_reimport_with_other_questions_is_refused(tasks: Path, isolated_runs: Path, tmp_path: Path) -> None:
    db = isolated_runs / "drift.duckdb"
    for questions, force in (([f"Question {i:02d} tail-{i:02d}" for i in range(6)], False),
                             ([f"Another {i:02d} tail-{i:02d}" for i in range(6)], True)):
        _traffic(tmp_path / "nightly.jsonl", db, questions, force)
        assert run_harness("eval", "-p", "fake", "-s", "nightly", "--db", str(db)).returncode == 0
    line = _refused_nightly(db, "fake")
    assert "doc set differs on nightly_text (0 docs only in baseline, 0 only in candidate, 6 changed)" in line


def _refused_nightly(db: Path, provider: str, *args: str) -> str:
    result = run_harness("drift", "-p", provider, "-s", "nightly", "--fail-on", "regression", *args, "--db", str(db))
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert query(db, "select count(*) from drift_checks") == [(0,)]
    return one_error_line(result)


def test_a_mostly_errored_run_is_refused_by_drift_and_by_the_judge(tasks: Path, profiles: Path, isolated_runs: Path,
                                                                    tmp_path: Path) -> None:
    """10 of 12 prompts fail their first call (no retries): the first run is 83% errored, the next clean."""
    db = isolated_runs / "drift.duckdb"
    _traffic(tmp_path / "nightly.jsonl", db,
             [f"Question {i:02d} {'fault=503' if i < 10 else 'fine'} tail-{i:02d}" for i in range(12)])
    with ScriptedServer() as server:
        for name, model in (("scripted", "m"), ("judge", "judge-m")):
            (profiles / f"{name}.toml").write_text(SCRIPTED.format(url=server.base_url, timeout=10)
                                                   .replace("max_retries = 1", "max_retries = 0")
                                                   .replace('model = "m"', f'model = "{model}"'))
        for _ in range(2):
            made = run_harness("eval", "-p", "scripted", "-s", "nightly", "--no-cache", "--max-error-rate", "0.9",
                               "--db", str(db))
            assert made.returncode == 0, made.stderr
        (errored, rate), (clean, _) = query(db, "select run_id, error_rate from runs order by started_at")
        assert rate == pytest.approx(10 / 12)
        line = _refused_nightly(db, "scripted")
        assert f"the earlier's run {errored} has 10 errored generations (83.3%" in line and "--resume" in line
        calls = sum(server.calls.values())
        judged = run_harness("judge", "pairwise", "-b", errored, "-c", clean, "--judge", "judge",
                             "--allow-self-judge", "--db", str(db))
        assert judged.returncode == 2, judged.stderr
        assert f"the baseline's run {errored} has 10 errored generations" in one_error_line(judged)
        assert sum(server.calls.values()) == calls  # the judge was never called
    assert query(db, "select count(*) from judgements") == [(0,)]
