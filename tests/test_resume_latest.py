"""`--resume latest` finds the run `runs list` shows (killed, interrupted, even before its first
answer) without the options it was started with, and the resumed run keeps its own settings: its
limit, its profile overrides and its cache policy (a `--no-cache` drift run asks the vendor again
for every doc it lacks, none from the cache). Conflicting options are refused in one line."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from bench.loopback import free_port
from tests.checks import assert_sound, one_error_line, query
from tests.conftest import run_harness, start_harness
from tests.servers import ScriptedServer
from tests.test_api_eval import write_profile
from tests.test_resume import _generations, _run_of, _slow_profile


def _wait(proc: subprocess.Popen, ready: object, what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, f"finished before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} in 120 s"
        time.sleep(0.02)


def _interrupt(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    return str(stderr)


def _resume_latest(db: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return run_harness("eval", "--resume", "latest", *extra, "--db", str(db), env=env)


def test_a_killed_run_resumes_with_latest_and_keeps_its_limit(tmp_path: Path, profiles: Path) -> None:
    env = _slow_profile(profiles, delay_ms=100)
    db = tmp_path / "killed.duckdb"
    proc = start_harness("eval", "-p", "slow", "-s", "smoke", "--limit", "8", "--db", str(db), env=env)
    try:
        _wait(proc, lambda: _generations(db) > 0, "a stored generation")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    run_id, status = _run_of(db)  # type: ignore[misc]
    assert status == "running"  # its process is gone: `runs list` says crashed
    listed = run_harness("runs", "list", "--db", str(db))
    assert re.search(rf"{run_id}.*crashed", " ".join(listed.stdout.split()))
    # Another limit is refused in one line (the run keeps its own), nothing changed.
    refused = _resume_latest(db, env, "-p", "slow", "--limit", "3")
    assert refused.returncode == 2 and "ran with --limit 8, not --limit 3" in one_error_line(refused)
    resumed = _resume_latest(db, env, "-p", "slow")  # no -s (smoke is the default), no --limit
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"run {run_id}" in resumed.stdout
    assert query(db, "select status, resumes, limit_docs from runs") == [("complete", 1, 8)]
    assert query(db, "select count(*), count(distinct (task, doc_id)) from generations") == [(24, 24)]
    assert_sound(db)


def test_a_run_interrupted_before_its_first_answer_resumes(tmp_path: Path, profiles: Path) -> None:
    """Told to resume, it can be: by id and by `latest` (it has nothing stored, and still counts)."""
    env = _slow_profile(profiles, delay_ms=1500)
    db = tmp_path / "early.duckdb"
    proc = start_harness("eval", "-p", "slow", "-s", "smoke", "--limit", "1", "--db", str(db), env=env)
    _wait(proc, lambda: _run_of(db) is not None, "a run row")
    stderr = _interrupt(proc)
    run_id, status = _run_of(db)  # type: ignore[misc]
    assert status == "interrupted" and _generations(db) == 0
    assert f"harness eval --resume {run_id}" in stderr
    # A plain eval does not offer it (nothing stored to reuse) ...
    resumed = _resume_latest(db, env, "-p", "slow")  # ... but --resume latest finishes it
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert query(db, "select run_id, status, resumes from runs") == [(run_id, "complete", 1)]
    assert query(db, "select count(*) from generations")[0][0] == 3


def test_a_no_cache_run_resumed_with_latest_asks_the_server_again(tmp_path: Path, profiles: Path) -> None:
    """The nightly drift recipe: a `--no-cache` run against a loopback server, interrupted, then
    `--resume latest -p NAME` alone. The resume keeps the base URL, the limit and the cache policy:
    every doc it lacks is asked of the server, none comes from the cache the first run filled."""
    db = tmp_path / "drift.duckdb"
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    with ScriptedServer(delay_s=1.0) as server:
        write_profile(profiles, "vendor", f"http://127.0.0.1:{free_port()}/v1")  # reached only by --base-url
        args = ("-p", "vendor", "-s", "smoke", "--limit", "16", "--base-url", server.base_url, "--db", str(db))
        filled = run_harness("eval", *args, env=env)  # fills the cache with every answer
        assert filled.returncode == 0, filled.stderr[-2000:]
        proc = start_harness("eval", *args, "--no-cache", env=env)
        _wait(proc, lambda: query(db, "select count(*) from runs where status = 'running'")[0][0] == 1
              and _generations(db) > 48, "a stored generation of the second run")
        stderr = _interrupt(proc)
        run_id = query(db, "select run_id from runs where status = 'interrupted'")[0][0]
        assert f"--resume {run_id}" in stderr
        stored = query(db, "select count(*) from generations where run_id = ?", [run_id])[0][0]
        assert 0 < stored < 48

        for option, line in (("--cache", "ran with --no-cache, not --cache"),
                             ("--base-url=http://127.0.0.1:9/v1", f"ran with --base-url {server.base_url}")):
            refused = _resume_latest(db, env, "-p", "vendor", option)
            assert refused.returncode == 2 and line in one_error_line(refused), refused.stderr

        before = sum(server.calls.values())
        resumed = _resume_latest(db, env, "-p", "vendor")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        asked = sum(server.calls.values()) - before
    assert asked == 48 - stored
    summary = " ".join(resumed.stdout.split())
    assert f" resumed, 0 from the cache, {asked} provider calls" in summary, summary[-300:]
    assert query(db, "select status, resumes, cache_hits, limit_docs from runs where run_id = ?", [run_id]) == [
        ("complete", 1, 0, 16)]
    assert query(db, "select count(*) from generations where run_id = ? and cached", [run_id]) == [(0,)]
    # Finished: nothing is left for `latest` to mean.
    again = _resume_latest(db, env, "-p", "vendor", "--no-cache")
    assert again.returncode == 2 and "no interrupted, failed or crashed run" in one_error_line(again)
