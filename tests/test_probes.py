"""Capability probes against real providers: llama.cpp's llama-server and the local hf stack.
Results are stored; probing again replaces a provider's rows; a suite that needs tool calling flags a
candidate whose tool-calling probe failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from harness.config.features import CAPABILITIES
from tests.conftest import ROOT, run_harness

pytestmark = pytest.mark.slow


def _rows(db: Path, provider: str) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select capability, status, value, evidence, probed_at from capabilities"
                           " where provider = ?", [provider]).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def test_probe_llamacpp_server_then_replace(isolated_runs: Path, llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    db = isolated_runs / "harness.duckdb"
    args = ("probe", "-p", "llamacpp", "--base-url", llamacpp_server.base_url, "--max-context", "2048", "-f", "json")
    first = run_harness(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    shown = {r["capability"]: r for r in json.loads(first.stdout)}
    assert set(shown) == set(CAPABILITIES)
    rows = _rows(db, "llamacpp")
    assert set(rows) == set(CAPABILITIES)
    # What llama-server serving SmolLM2 does, measured: it honours stops, max_tokens, seeds, usage,
    # log-probs, streaming, n and both JSON formats (a grammar holds them). Tools reach the prompt, but
    # this 135M model answers in prose (no call to parse back), so the probe, which measures model and
    # server together, fails it. Each slot holds 2048 tokens: a longer prompt is refused (HTTP 400).
    for capability in ("usage", "max_tokens", "stop_sequences", "seed", "logprobs", "streaming", "json_mode",
                       "json_schema", "n"):
        assert rows[capability][0] == "pass", (capability, rows[capability])
    assert rows["tools"][0] == "fail" and rows["tools"][1] == "no tool call"
    assert 1000 < int(rows["context_length"][1]) <= 2048
    assert all(json.loads(r[2]) for r in rows.values())  # every result carries evidence
    again = run_harness(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    replaced = _rows(db, "llamacpp")
    assert len(replaced) == len(CAPABILITIES)
    assert all(replaced[c][3] > rows[c][3] for c in CAPABILITIES)
    _tools_suite_flags_llamacpp(isolated_runs, llamacpp_server.base_url)


def _tools_suite_flags_llamacpp(runs: Path, base_url: str) -> None:
    tasks = runs.parent / "tasks"
    shutil.copytree(ROOT / "tasks", tasks)
    suite = "suite: agent\ntasks:\n  - task: smoke_choice\nfeatures: [stop_sequences, tools]\n"
    (tasks / "agent.yaml").write_text(suite)
    env = {"HARNESS_TASKS_DIR": str(tasks)}
    for provider, extra in (("smollm2", ()), ("llamacpp", ("--base-url", base_url))):
        result = run_harness("eval", "-p", provider, "-s", "agent", "--limit", "6", *extra, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
    compared = run_harness("compare", "-b", "smollm2", "-c", "llamacpp", "-s", "agent", "-f", "json")
    assert compared.returncode == 0, compared.stderr
    gaps = {g["feature"]: g for g in json.loads(compared.stdout)["capability_gaps"]}
    assert gaps["tools"]["candidate_status"] == "fail" and gaps["tools"]["candidate_source"] == "probe"
    assert "stop_sequences" not in gaps  # probed: pass
    table = run_harness("compare", "-b", "smollm2", "-c", "llamacpp", "-s", "agent")
    assert "capability gap: the suite needs tools; llamacpp fail (probe)" in table.stdout


def test_probe_hf_provider(isolated_runs: Path) -> None:
    result = run_harness("probe", "-p", "smollm2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = _rows(isolated_runs / "harness.duckdb", "smollm2")
    assert set(rows) == set(CAPABILITIES)
    for capability in ("usage", "max_tokens", "stop_sequences", "seed", "logprobs", "n", "streaming"):
        assert rows[capability][0] == "pass", (capability, rows[capability])
    # Asked for in the prompt and parsed from the text: measured, pass or fail, with what came back.
    for capability in ("json_mode", "json_schema", "tools"):
        assert rows[capability][0] in ("pass", "fail"), (capability, rows[capability])
    assert "unconstrained decoding" in rows["json_schema"][1] and "fallback (Hermes tags)" in rows["tools"][1]
    assert rows["context_length"][1] == "8192"


def test_probe_refuses_a_fake_provider(isolated_runs: Path) -> None:
    result = run_harness("probe", "-p", "fake")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: probes need an hf or openai provider; 'fake' is fake"
