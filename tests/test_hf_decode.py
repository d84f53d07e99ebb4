"""Rowwise decoding on the real embedded model: exact mode gives one-at-a-time answers bit for bit;
batched mode (the default) agrees with it, packs prefills and computes shared prefixes once."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers import AutoModelForCausalLM

from harness.config.profiles import Profile, load_profile
from harness.providers.base import GenRequest, GenResult, Message
from harness.providers.hf import decode as hf_decode
from harness.providers.hf import packed
from harness.providers.hf.prefix import SharedPrefixes
from harness.providers.hf.provider import HFProvider
from harness.providers.hf.weights import resolve_weights

pytestmark = pytest.mark.slow

QUESTIONS = [
    ("What is 17 times 23? Think step by step.", 40, ("\n\n",)),
    ("Name three colours, separated by commas.", 24, ("\n",)),
    ("Write a Python function that reverses a string.", 48, ("\ndef", "\nclass")),
    ("Explain in detail how a bicycle works. " * 6, 32, ()),
    ("Hi", 12, ()),
    ("Q: A train travels 60 km in 1.5 hours. What is its speed?\nA:", 40, ("Q:",)),
]


def _requests() -> list[GenRequest]:
    return [GenRequest(messages=(Message("user", q),), max_tokens=n, stop=stop) for q, n, stop in QUESTIONS]


def _profile(**hf: object) -> Profile:
    profile = load_profile("smollm2")
    assert profile.hf is not None
    return profile.model_copy(update={"hf": profile.hf.model_copy(update=hf)})


@pytest.fixture(scope="module")
def provider() -> HFProvider:
    return HFProvider(_profile(batch_size=4, threads=1, exact=True))


@pytest.fixture(scope="module")
def batched() -> HFProvider:
    return HFProvider(_profile(batch_size=4, threads=1, packed_weights=True))


def _alone(provider: HFProvider, requests: list[GenRequest]) -> dict[str, GenResult]:
    """What `model.generate` answers for each prompt on its own (lm-eval's batch size 1), on an
    unpatched copy of the model."""
    model = AutoModelForCausalLM.from_pretrained(resolve_weights(_profile()).folder, dtype=torch.float32).eval()
    decoder, patched, batch = provider.decoder, provider.model, provider.batch_size
    provider.decoder, provider.model, provider.batch_size = None, model, 1
    try:
        return {r.key: r for r in provider.generate(requests)}
    finally:
        provider.decoder, provider.model, provider.batch_size = decoder, patched, batch


def test_batched_answers_are_the_answers_each_prompt_gets_alone(provider: HFProvider) -> None:
    assert provider.info.details["decoding"] == "rowwise-exact"
    # Exact mode keeps every weight as loaded: packed (reordered) weights round differently.
    assert provider.info.details["linear_layers"] == "BLAS"
    assert not any(hasattr(m, "_harness_packed") for m in provider.model.modules())
    requests = _requests()
    batched = {r.key: r for r in provider.generate(requests)}
    alone = _alone(provider, requests)
    assert set(batched) == {r.key() for r in requests}
    for req in requests:
        ours, theirs = batched[req.key()], alone[req.key()]
        assert (ours.text, ours.output_tokens, ours.finish_reason) == (
            theirs.text, theirs.output_tokens, theirs.finish_reason), req.messages
    assert sum(bool(r.text) for r in batched.values()) >= 5
    # The output layer ran batched for most greedy tokens, and single-row where it could not be sure.
    assert provider.decoder is not None and provider.decoder.head.batched > 0


def test_rows_stop_at_their_stop_string_and_the_batch_does_not_run_on(provider: HFProvider) -> None:
    stops = [GenRequest(messages=(Message("user", q),), max_tokens=200, stop=(".", "\n")) for q, _, _ in QUESTIONS[:4]]
    forwards = 0

    def count(*_: object) -> None:
        nonlocal forwards
        forwards += 1

    hook = provider.model.base_model.register_forward_hook(count)
    try:
        results = list(provider.generate(stops))
    finally:
        hook.remove()
    assert all(r.finish_reason == "stop" and "." not in r.text and "\n" not in r.text for r in results)
    longest = max(r.output_tokens or 0 for r in results)
    assert longest < 100
    # One prefill per row, then at most one step per token of the longest row: nobody decodes to 200.
    assert forwards <= len(stops) + longest


def test_stopping_early_gives_the_text_that_running_to_max_tokens_gives_up_to_the_stop(provider: HFProvider) -> None:
    question = (Message("user", "List four fruits, one per line."),)
    stopped = next(provider.generate([GenRequest(messages=question, max_tokens=40, stop=("\n",))]))
    full = next(provider.generate([GenRequest(messages=question, max_tokens=40)]))
    assert stopped.finish_reason == "stop"
    assert full.text.startswith(stopped.text + "\n")


def test_a_sampled_answer_does_not_depend_on_the_batch_it_shares(provider: HFProvider) -> None:
    sampled = GenRequest(messages=(Message("user", "Tell me a short story about a cat."),), max_tokens=24,
                         temperature=0.8, seed=7)
    alone = next(provider.generate([sampled]))
    together = {r.key: r for r in provider.generate([sampled, *_requests()[:3]])}
    assert together[sampled.key()].text == alone.text and alone.text


def test_the_output_layer_falls_back_to_one_row_when_two_tokens_tie(provider: HFProvider) -> None:
    assert provider.decoder is not None
    head = provider.decoder.head
    with torch.no_grad():
        weight = head.weight.detach()
        hidden = torch.randn(3, 1, weight.shape[1], generator=torch.Generator().manual_seed(0)) * 2
        # Project row 0 so that its two best tokens score the same: no batched answer is safe there.
        a, b = (weight @ hidden[0, 0]).topk(2).indices.tolist()
        diff = weight[a] - weight[b]
        hidden[0, 0] -= diff * (hidden[0, 0] @ diff) / (diff @ diff)
        exact_before = head.exact
        tokens = head.greedy(hidden)
        fell_back = head.exact - exact_before
        assert tokens == [int(head.logits(hidden, i).argmax()) for i in range(3)]
    assert fell_back >= 1


def test_bfloat16_is_an_opt_in_that_loads_and_runs() -> None:
    bf16 = HFProvider(_profile(dtype="bfloat16", batch_size=2, threads=1))
    assert bf16.info.details["dtype"] == "bfloat16"
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    results = list(bf16.generate(_requests()[:3]))
    assert len(results) == 3 and sum(bool(r.text) for r in results) >= 2


def test_the_model_still_generates_as_usual_outside_the_decoder(provider: HFProvider) -> None:
    # The probes call model.generate (logprobs, n, streaming) on the provider's own model.
    plain = AutoModelForCausalLM.from_pretrained(resolve_weights(_profile()).folder, dtype=torch.float32).eval()
    tokenizer = provider.tokenizer
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                           add_generation_prompt=True) for q, _, _ in QUESTIONS[:2]]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    settings = {"max_new_tokens": 12, "do_sample": False, "temperature": None, "top_p": None, "top_k": None,
                "pad_token_id": tokenizer.pad_token_id}
    with torch.inference_mode():
        ours = provider.model.generate(**batch, **settings)
        theirs = plain.generate(**batch, **settings)
    assert torch.equal(ours, theirs)


def test_batched_mode_agrees_with_exact_mode(provider: HFProvider, batched: HFProvider) -> None:
    # Batched rounding (other kernels: oneDNN with packed weights, attention over runs of rows) differs
    # in the last bits from one row at a time; on the 199 core-suite requests of bench/hf_throughput.py
    # every answer was lm-eval's, so at most one near-tie flip is allowed here.
    assert batched.info.details["decoding"] == "rowwise-batched"
    assert batched.info.details["linear_layers"] == ("oneDNN, packed weights" if packed.available() else "BLAS")
    assert HFProvider(_profile(batch_size=4)).info.details["linear_layers"] == "BLAS"  # packing is an opt-in
    requests = _requests()
    exact = {r.key: r.text for r in provider.generate(requests)}
    fast = {r.key: r.text for r in batched.generate(requests)}
    assert set(fast) == set(exact)
    assert sum(fast[k] == exact[k] for k in exact) >= len(requests) - 1


def test_a_shared_prefix_is_prefilled_once(batched: HFProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    preamble = "Answer each question with one number.\n" + "".join(
        f"Q: What is {a} plus {a}?\nA: {2 * a}\n" for a in range(1, 13))
    requests = [GenRequest(messages=(Message("user", f"{preamble}Q: What is {a} plus {a}?\nA:"),), max_tokens=6,
                           stop=("\n",)) for a in (20, 30, 40, 50)]
    prompt_tokens = sum(len(batched._encode(r)) for r in requests)
    prefilled = 0

    def count(_: object, args: tuple, kwargs: dict) -> None:
        nonlocal prefilled
        ids = kwargs["input_ids"]
        prefilled += ids.shape[1] if ids.shape[0] == 1 and ids.shape[1] > 1 else 0

    hook = batched.model.base_model.register_forward_pre_hook(count, with_kwargs=True)
    try:
        shared = {r.key: r.text for r in batched.generate(requests)}
        with_prefix = prefilled
        monkeypatch.setattr(hf_decode, "SharedPrefixes", lambda jobs: SharedPrefixes(jobs, min_tokens=10**9,
                                                                                       short_tokens=10**9))
        prefilled = 0
        alone = {r.key: r.text for r in batched.generate(requests)}
    finally:
        hook.remove()
    assert prefilled == prompt_tokens
    # The four prompts differ only in their last few tokens: the preamble (over 200 tokens) once, then
    # each prompt's own tail, instead of the preamble four times.
    assert 200 * 3 < prompt_tokens - with_prefix < prompt_tokens
    assert sum(shared[k] == alone[k] for k in alone) >= 3 and any(shared.values())
    assert not batched.decoder._prefix_rows  # freed after its last user started


def test_attention_runs_split_where_padding_would_cost_more_than_a_call() -> None:
    from harness.providers.hf.pool import CALL_POSITIONS, _chunks

    assert _chunks([300] * 8) == [(0, 8)]  # equal lengths: one call, nothing padded
    assert _chunks([40, 40, 40, 4000]) == [(0, 3), (3, 4)]  # padding three rows to 4000 costs more than a call
    assert _chunks([100, 100 + CALL_POSITIONS // 4]) == [(0, 2)]  # a little padding beats a second call
    lengths = [900, 880, 870, 120, 110, 600, 590]
    runs = _chunks(lengths)
    assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))  # contiguous, in slot order
    assert runs == [(0, 3), (3, 5), (5, 7)]


def test_the_slot_pool_keeps_keys_when_it_grows_and_shrinks(batched: HFProvider) -> None:
    from harness.providers.hf.pool import SlotPool

    pool = SlotPool(batched.model, slots=3)
    pool.reserve(10, limit=10)
    assert pool.capacity == 10
    for layer in range(pool.layers):
        pool.keys[layer][:, :, :10] = torch.arange(10.0)[None, None, :, None] + layer
        pool.values[layer][:, :, :10] = -torch.arange(10.0)[None, None, :, None]
    pool.reserve(700, limit=2000)  # grown: the old positions are kept
    assert pool.capacity >= 700
    assert torch.equal(pool.keys[5][:, :, :10, 0], torch.arange(10.0).expand(3, pool.kv_heads, 10) + 5)
    pool.reserve(8, limit=2000)  # not shrunk unless asked (a prefill does not see every row in flight)
    assert pool.capacity >= 700
    pool.reserve(8, limit=2000, shrink=True)
    assert pool.capacity < 700 and torch.equal(pool.values[0][2, 1, :8, 3], -torch.arange(8.0))
    pool.move(2, 0, 4)
    assert [pool.take(), pool.take(), pool.take()] == [0, 1, 2]


def test_rows_in_flight_fill_the_lowest_slots_as_rows_leave(batched: HFProvider) -> None:
    seen: list[list[int]] = []
    decode = batched.decoder._decode

    def watch(rows: list) -> list[int]:
        seen.append([row.slot for row in rows])
        return decode(rows)

    batched.decoder._decode = watch  # type: ignore[method-assign]
    try:
        results = list(batched.generate(_requests()))
    finally:
        del batched.decoder._decode
    assert len(results) == len(QUESTIONS)
    assert any(len(s) < 4 for s in seen) and any(len(s) == 4 for s in seen)
    assert all(s == list(range(len(s))) for s in seen)


def test_a_row_that_ends_at_its_first_token_leaves_no_hole_in_the_slots(batched: HFProvider) -> None:
    # The middle prompt (by length, so the middle slot) stops at its first token, during the prefill:
    # the rows still in flight must be moved down so that a decode step finds them in slots 0..n-1.
    every_character = tuple("abcdefghijklmnopqrstuvwxyz0123456789 .,:!?'\"-\n")
    requests = [GenRequest(messages=(Message("user", "Tell me about the sea. " * n),), max_tokens=8,
                           stop=every_character if n == 6 else ()) for n in (12, 6, 2)]
    results = {r.key: r for r in batched.generate(requests)}
    assert len(results) == 3 and all(r.error is None for r in results.values())
    stopped = results[requests[1].key()]
    assert stopped.finish_reason == "stop" and stopped.output_tokens == 1
    assert all((results[r.key()].output_tokens or 0) > 1 for r in (requests[0], requests[2]))
