"""Which prompts share a prefix worth computing once (pure logic; the model-side test is in
test_hf_decode.py)."""

from __future__ import annotations

from harness.providers.hf.jobs import Job
from harness.providers.hf.prefix import SharedPrefixes


def test_prompts_sharing_a_long_prefix_get_it_and_the_last_user_is_told() -> None:
    head = list(range(100))
    a, b, c = (Job(ids=[*head, *tail], max_tokens=4) for tail in ([1, 2], [3], [1, 5]))
    other = Job(ids=[7] * 120, max_tokens=4)
    prefixes = SharedPrefixes([a, b, other, c], min_tokens=64)
    assert prefixes.take(other) == (None, False)  # shares nothing
    key_a, last_a = prefixes.take(a)
    key_c, last_c = prefixes.take(c)
    key_b, last_b = prefixes.take(b)
    # a and c share 101 tokens, c and b 100: all three use the 100 that they all share.
    assert key_a == key_b == key_c == tuple(head)
    assert (last_a, last_c, last_b) == (False, False, True)


def test_short_or_unshared_prefixes_are_not_used_and_a_prompt_keeps_a_token_of_its_own() -> None:
    short = [Job(ids=[*range(10), i], max_tokens=4) for i in range(3)]
    assert all(SharedPrefixes(short, min_tokens=64).take(j) == (None, False) for j in short)
    same = [Job(ids=list(range(80)), max_tokens=4) for _ in range(2)]
    prefixes = SharedPrefixes(same, min_tokens=64)
    key, _ = prefixes.take(same[0])
    assert key is not None and len(key) == 79


def test_a_system_prompt_is_shared_by_the_prompts_no_longer_prefix_claims() -> None:
    system = list(range(1000, 1030))  # 30 tokens: a system prompt and the opening of the user turn
    few_shot = [*system, *range(100)]  # 130 tokens of few-shot examples after it
    gsm = [Job(ids=[*few_shot, 500 + i, 7], max_tokens=4) for i in range(3)]
    plain = [Job(ids=[*system, 600 + i, 8, 9], max_tokens=4) for i in range(4)]
    alone = Job(ids=[1, 2, 3], max_tokens=4)
    prefixes = SharedPrefixes([*gsm, *plain, alone], min_tokens=64, short_tokens=16)
    # The few-shot prompts keep their long prefix (one pass at 16 would cut them to the system prompt) ...
    assert {prefixes.take(j)[0] for j in gsm} == {tuple(few_shot)}
    # ... and the others share the system prompt among themselves.
    taken = [prefixes.take(j) for j in plain]
    assert {key for key, _ in taken} == {tuple(system)} and [last for _, last in taken] == [False] * 3 + [True]
    assert prefixes.take(alone) == (None, False)
