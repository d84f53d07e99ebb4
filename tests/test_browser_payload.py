"""What the sample browser's writer makes of a pair before any page opens: a word diff that rebuilds
both answers, and data that a script element carries intact."""

from __future__ import annotations

import itertools
import json
import random

from harness.report.browser import DIFF_WORDS, embedded, word_diff


def test_a_word_diff_rebuilds_both_answers() -> None:
    rng = random.Random(3)
    words = ["Oslo", "is", "cold", ",", "snow", "\n", "  ", "get_weather(city=\"Oslo\")", "é", "!"]
    for _ in range(200):
        before = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
        after = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
        runs = word_diff(before, after)
        assert runs is not None
        assert "".join(text for op, text in runs if op in "=-") == before
        assert "".join(text for op, text in runs if op in "=+") == after
        assert all(a[0] != b[0] for a, b in itertools.pairwise(runs))  # runs are merged


def test_a_diff_past_the_limit_is_left_out() -> None:
    assert word_diff("word " * (DIFF_WORDS + 1), "word") is None


def test_small_data_is_json_that_cannot_close_its_script_element() -> None:
    value = {"text": "</script><!--<script>alert(1)</script>", "n": 1}
    kind, text = embedded(value)
    assert kind == "application/json" and "<" not in text and json.loads(text) == value
    kind, text = embedded(value, compress=True)
    assert kind == "application/gzip+base64" and set(text) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
