"""Report axes: ticks on round values, labels without e-notation, none cut off at the edges."""

from __future__ import annotations

import re

import pytest

from harness.report.svg import WIDTH, boxes, forest, nice_ticks, tick_label


@pytest.mark.parametrize(("low", "high", "expected"), [
    (-0.86, 0.12, [-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2]),
    (0.0, 20740.0, [0.0, 10000.0, 20000.0, 30000.0]),
    (-0.05, 0.0, [-0.05, -0.04, -0.03, -0.02, -0.01, 0.0]),
    (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
])
def test_ticks_fall_on_round_values_covering_the_data(low: float, high: float, expected: list[float]) -> None:
    count = 3 if high > 1000 else 5
    first, last, ticks = nice_ticks(low, high, count)
    assert ticks == pytest.approx(expected)
    assert first <= low and last >= high


def test_labels_are_plain_numbers() -> None:
    ticks = nice_ticks(0, 20740, 4)[2]
    assert [tick_label(t, ticks) for t in ticks] == ["0", "10,000", "20,000", "30,000"]
    ticks = nice_ticks(-0.86, 0.12)[2]
    assert tick_label(ticks[1], ticks, signed=True) == "−0.8"


def _labels(svg: str) -> list[tuple[float, str, str]]:
    return [(float(x), anchor, text) for x, anchor, text in
            re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)">([^<]*)</text>', svg)]


def test_long_latencies_read_in_seconds_and_fit() -> None:
    svg = boxes([("gpt-4o", [400.0, 900.0, 1500.0, 4000.0, 9000.0]),
                 ("smollm2", [2000.0, 18000.0, 25000.0, 60000.0, 79000.0])], "ms", "Latency")
    ticks = [t for t in _labels(svg) if t[2].endswith(" s")]
    assert [t[2] for t in ticks] == ["0 s", "20 s", "40 s", "60 s", "80 s"]
    assert "e+" not in svg
    last_x, anchor, _ = ticks[-1]
    assert anchor == "end" and last_x <= WIDTH


def test_gap_axis_has_round_ticks() -> None:
    svg = forest([("a", -0.3, -0.84, 0.1), ("b", 0.0, -0.2, 0.2)], 0.05)
    labels = [(anchor, text) for _, anchor, text in _labels(svg) if re.fullmatch(r"[+−]?\d\.\d+", text)]
    assert labels == [("start", "−1.00"), ("middle", "−0.75"), ("middle", "−0.50"), ("middle", "−0.25"),
                      ("middle", "0.00"), ("end", "+0.25")]
