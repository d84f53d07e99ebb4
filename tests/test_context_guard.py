"""A prompt longer than the local model's context is one errored sample (`context_length`), not a dead
run: the guard on the real tokenizer, the provider on the real model, and `harness eval` on a
1,000-doc suite with 10 over-long prompts, its memory measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoConfig, AutoTokenizer

from harness.config.profiles import load_profile
from harness.providers.base import GenRequest, Message
from harness.providers.hf.context import ContextGuard
from harness.providers.hf.provider import HFProvider
from harness.providers.hf.weights import resolve_weights
from tests.checks import query
from tests.conftest import run_harness, run_harness_peak_rss

pytestmark = pytest.mark.slow

WORDS = " ".join(f"word{i % 997}" for i in range(60_000))  # the 60,000-word prompt (~470,000 characters)


def _guard() -> tuple[ContextGuard, object]:
    folder = resolve_weights(load_profile("smollm2")).folder
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return ContextGuard.of(AutoConfig.from_pretrained(folder), tokenizer), tokenizer


def test_the_guard_never_tokenises_a_huge_prompt_in_full() -> None:
    guard, tokenizer = _guard()
    assert guard.tokens == 8192 and 16 <= guard.chars_per_token <= 256
    seen: list[int] = []

    def tokenize(text: str) -> list[int]:
        seen.append(len(text))  # what the guard had tokenised, by length
        return list(tokenizer(text)["input_ids"])  # type: ignore[operator]

    assert guard.encode(WORDS, tokenize) is None and seen == [8 * 8192]  # only its head
    seen.clear()
    assert guard.encode("x" * (guard.tokens * guard.chars_per_token + 1), tokenize) is None and seen == []
    just_over = guard.encode(" word" * 8300, tokenize)  # under the head's length: counted in full
    assert just_over is not None and guard.too_long(len(just_over)) and seen == [5 * 8300]
    assert not guard.too_long(8191) and guard.too_long(8192)
    assert guard.room(8000, 256) == 192 and guard.room(10, 256) == 256


def test_the_provider_refuses_per_sample_and_caps_answers_at_the_context() -> None:
    provider = HFProvider(load_profile("smollm2"))
    assert provider.info.details["context_length"] == 8192
    provider.context = ContextGuard(64, provider.context.chars_per_token)  # a small context, same code
    fits = GenRequest(prompt="Count: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", max_tokens=200)
    over = GenRequest(messages=(Message("user", "Count: " + " ".join(map(str, range(100)))),), max_tokens=8)
    results = {r.key: r for r in provider.generate([fits, over])}
    answered, refused = results[fits.key()], results[over.key()]
    assert answered.error is None and answered.input_tokens is not None
    assert answered.input_tokens + (answered.output_tokens or 0) <= 64 + 1  # +1: an EOS ends without a slot
    assert refused.error is not None and refused.error.startswith("context_length: ") and refused.text == ""
    assert refused.input_tokens is not None and refused.input_tokens > 64


def test_eval_completes_when_prompts_exceed_the_context(tasks: Path, tmp_path: Path) -> None:
    rows = [{"input": f"Say yes ({i}).", "reference": "yes"} for i in range(990)]
    # Over the context three ways: the 60,000 words (only a head tokenised), ~9,000 tokens
    # (counted), and longer than any tokenisation could fit (refused on its length).
    rows[100:100] = [{"input": f"{i} {WORDS}", "reference": "yes"} for i in range(4)]
    rows[500:500] = [{"input": f"{i}" + " word" * 9000, "reference": "yes"} for i in range(3)]
    rows[900:900] = [{"input": f"{i}" + "abcdefgh" * 90_000, "reference": "yes"} for i in range(3)]
    assert len(rows) == 1000
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "spec.yaml").write_text("task: longctx\ndata: rows.jsonl\nmetric: contains\nmax_tokens: 1\n")
    made = run_harness("tasks", "new", "--spec", str(tmp_path / "spec.yaml"))
    assert made.returncode == 0, made.stderr
    db = tmp_path / "runs.duckdb"
    result, peak_rss = run_harness_peak_rss("eval", "-p", "smollm2", "-t", "longctx", "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "10 errored" in result.stdout + result.stderr
    assert peak_rss < 2 * 2**30, peak_rss / 2**30
    assert query(db, "select status, n_errors from runs") == [("complete", 10)]
    kinds = query(db, "select error_kind, count(*) from sample_classes group by all order by 1")
    assert kinds == [("context_length", 10), (None, 990)]
    assert query(db, "select count(*) from samples where error is null and score is not null") == [(990,)]
