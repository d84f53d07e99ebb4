"""`harness eval` through the openai provider against a scripted loopback server (real SDK, real CLI)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bench.loopback import free_port
from harness.config.secrets import REMOVED
from tests.conftest import run_harness
from tests.servers import ScriptedServer

PROFILE = """
kind = "openai"
model = "scripted"
base_url = "{base_url}"
{key_line}
[openai]
timeout_s = 2
max_retries = 4
backoff_base_s = 0.05
concurrency = 8

[openness]
class = "proprietary"
licence = "proprietary"
weights = false
code = false
data = false

[pricing]
input_usd_per_mtok = 2.5
output_usd_per_mtok = 10.0
"""


def write_profile(folder: Path, name: str, base_url: str, key_env: str | None = None) -> None:
    key_line = f'api_key_env = "{key_env}"' if key_env else ""
    (folder / f"{name}.toml").write_text(PROFILE.format(base_url=base_url, key_line=key_line))


@pytest.fixture
def flaky() -> Iterator[ScriptedServer]:
    with ScriptedServer(every=3, every_kind="503") as server:
        yield server


def _db(runs: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(runs / "harness.duckdb"), read_only=True)


def test_transient_faults_lose_no_sample(isolated_runs: Path, profiles: Path, flaky: ScriptedServer) -> None:
    write_profile(profiles, "scripted", flaky.base_url)
    result = run_harness("eval", "-p", "scripted", "-s", "smoke")
    assert result.returncode == 0, result.stderr
    con = _db(isolated_runs)
    try:
        assert con.execute("select status from runs").fetchone() == ("complete",)
        assert con.execute("select count(*), count(error) from generations").fetchone() == (72, 0)
        retried = con.execute("select count(distinct request_key) from generations where retries = 1").fetchone()[0]
        assert retried > 0 and retried == sum(1 for calls in flaky.calls.values() if calls == 2)
        row = con.execute("select min(latency_ms), min(input_tokens), min(output_tokens), min(cost_usd),"
                          " min(s.error is null) from samples s").fetchone()
        assert row[0] > 0 and row[1] == 7 and row[2] == 3 and row[4]
        assert row[3] == pytest.approx((7 * 2.5 + 3 * 10.0) / 1e6)
        assert con.execute("select distinct fingerprint, model_reported from generations").fetchall() == [
            ("fp_scripted", "scripted-1")]
    finally:
        con.close()


def test_auth_failure_stops_the_run_with_one_line(isolated_runs: Path, profiles: Path) -> None:
    with ScriptedServer(every=1, every_kind="401") as server:
        write_profile(profiles, "denied", server.base_url)
        result = run_harness("eval", "-p", "denied", "-t", "smoke_choice")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "authentication failed (HTTP 401)" in lines[0]
    con = _db(isolated_runs)
    try:
        assert con.execute("select status from runs").fetchall() == [("failed",)]
    finally:
        con.close()


def test_missing_api_key(isolated_runs: Path, profiles: Path, flaky: ScriptedServer) -> None:
    write_profile(profiles, "keyed", flaky.base_url, key_env="LOCKIN_TEST_UNSET_KEY")
    result = run_harness("eval", "-p", "keyed", env={"LOCKIN_TEST_UNSET_KEY": ""})
    assert result.returncode == 2
    assert "needs an API key: set LOCKIN_TEST_UNSET_KEY" in result.stderr
    assert sum(flaky.calls.values()) == 0


def test_unreachable_endpoint(isolated_runs: Path, profiles: Path) -> None:
    write_profile(profiles, "nowhere", f"http://127.0.0.1:{free_port()}/v1")
    result = run_harness("eval", "-p", "nowhere")
    assert result.returncode == 2
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


def test_base_url_and_model_overrides(isolated_runs: Path, profiles: Path, flaky: ScriptedServer) -> None:
    write_profile(profiles, "moved", f"http://127.0.0.1:{free_port()}/v1")
    result = run_harness("eval", "-p", "moved", "-t", "smoke_choice", "--limit", "3",
                         "--base-url", flaky.base_url, "--model", "other-model")
    assert result.returncode == 0, result.stderr
    con = _db(isolated_runs)
    try:
        stored = con.execute("select profile_json->>'$.base_url', model from providers").fetchone()
        assert stored == (flaky.base_url, "other-model")
    finally:
        con.close()
    bad = run_harness("eval", "-p", "moved", "--base-url", "http://user:pw@127.0.0.1:1/v1")
    assert bad.returncode == 2 and "must not carry credentials" in bad.stderr and "pw@" not in bad.stderr


def test_canary_key_never_persists(isolated_runs: Path, profiles: Path) -> None:
    canary = "sk-canary-" + secrets.token_hex(16)
    with ScriptedServer(every=4, every_kind="echo400") as server:
        write_profile(profiles, "canary", server.base_url, key_env="LOCKIN_CANARY_KEY")
        # A quarter of the requests fail (the server echoes the key in a 400): allowed here, so the run completes.
        result = run_harness("--debug", "eval", "-p", "canary", "-s", "smoke", "--max-error-rate", "1",
                             env={"LOCKIN_CANARY_KEY": canary})
        listed = run_harness("runs", "list", "-f", "json")
        shown = run_harness("providers", "show", "canary", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Bearer {canary}" in server.auth_headers  # the key was really sent
    con = _db(isolated_runs)
    try:  # the server echoed the key in some 400s: those samples carry a scrubbed error
        errors = [e for (e,) in con.execute("select error from generations where error is not null").fetchall()]
    finally:
        con.close()
    assert errors and all(REMOVED in e for e in errors)
    outputs = result.stdout + result.stderr + listed.stdout + listed.stderr + shown.stdout + shown.stderr
    assert canary not in outputs
    assert "LOCKIN_CANARY_KEY" in shown.stdout  # the variable's name is stored, never its value
    files = [p for p in isolated_runs.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert canary.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(("extra_body", "pattern"), [
    ('{{ repeat_penalty = 1.0, top_k = "{canary}" }}',
     r"extra_body\.top_k in \S+pasted\.toml holds a value that looks like a credential"),
    ('{{ repeat_penalty = 1.0, chat_template_kwargs = {{ auth = "Bearer {canary}" }} }}',
     r"extra_body\.chat_template_kwargs\.auth in \S+ holds a value that looks like a credential"),
    ('{{ api_key = "{canary}" }}', r"extra_body\.api_key in \S+ holds a value that looks like a credential"),
    ('{{ api_key = "not-a-key" }}', "'api_key' is not a decoding field"),
    ('{{ guided_json = {{ token = "x" }} }}', r"extra_body\.guided_json\.token looks like a credential"),
])
def test_canary_key_in_extra_body_is_refused(isolated_runs: Path, profiles: Path, extra_body: str,
                                             pattern: str) -> None:
    """A key pasted into extra_body would be sent, stored and hashed: it is refused in one line,
    without echoing it, before anything is written."""
    canary = "sk-canary-" + secrets.token_hex(16)
    text = PROFILE.format(base_url="http://127.0.0.1:9/v1", key_line="").replace(
        "[openai]\n", "[openai]\nextra_body = " + extra_body.format(canary=canary) + "\n")
    (profiles / "pasted.toml").write_text(text)
    for command in (("eval", "-p", "pasted", "-s", "smoke"), ("providers", "show", "pasted")):
        result = run_harness(*command)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(pattern, lines[0]), lines
        assert canary not in result.stdout + result.stderr
    assert not isolated_runs.exists() or not any(isolated_runs.iterdir())
