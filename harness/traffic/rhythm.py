"""The traffic's rhythm, from when its requests were sent (`TrafficRecord.at`), and the tokens its
requests take, from the logged usage: what sizes a self-hosted server when the team gives no figures.

- **Requests per day**: the timed requests over the span their times cover (last minus first),
  n / span x 86,400. Fewer than two timed requests, or a span under an hour: no rhythm (a few
  seconds of a sample log scaled to a day would size a bill from nothing). Requests without a time
  are not counted, and the line says how many there were.
- **Peak factor**: the busiest minute's requests against the mean per minute over the span. The
  busiest minute is the most requests in any 60 seconds, [t, t + 60 s) from each request's time, so
  a burst is counted whole wherever it falls against the clock's minutes (given, like the rate, from
  an hour of span: the mean of a few minutes is no baseline for a peak).
- **Tokens per kind of request** (tools, json, text): p50, p95 and max of the logged answers'
  `usage.prompt_tokens` and `usage.completion_tokens`, each over the requests that report it
  (quantiles interpolated linearly between order statistics, as DuckDB's `quantile_cont`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.traffic.docs import KINDS, kind_of
from harness.traffic.records import TrafficRecord

MIN_SPAN_S = 3600.0  # the least span a rate and a peak factor are given for
WINDOW_S = 60.0


@dataclass(frozen=True)
class Rhythm:
    n_requests: int  # all requests of the import
    n_timed: int  # those with a time
    first_at: float | None = None  # Unix seconds
    last_at: float | None = None
    requests_per_day: float | None = None
    busiest_minute: int | None = None  # the most requests in any 60 seconds
    peak_factor: float | None = None
    note: str | None = None  # why a figure is missing, or what it leaves out

    @property
    def span_s(self) -> float | None:
        return None if self.first_at is None or self.last_at is None else self.last_at - self.first_at

    def line(self) -> str:
        """One line for the import's output."""
        if self.requests_per_day is None:
            return f"rhythm: none ({self.note})"
        span = self.span_s or 0.0
        peak = f"peak factor {self.peak_factor:.4g} (busiest minute {self.busiest_minute} requests)"
        untimed = self.n_requests - self.n_timed
        left_out = f"; {untimed:,} request(s) without a time not counted" if untimed else ""
        return (f"rhythm: {per_day(self.requests_per_day)} requests/day ({self.n_timed:,} timed requests over "
                f"{span_words(span)}), {peak}{left_out}")


def per_day(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def span_words(seconds: float) -> str:
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.2f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def busiest_window(times: Sequence[float], window_s: float = WINDOW_S) -> int:
    """The most of the sorted `times` in any window of `window_s` seconds: a window holding the most
    can be slid to start at its first request, so only [t, t + window_s) from each time is counted."""
    return max((bisect_left(times, t + window_s, lo=i) - i for i, t in enumerate(times)), default=0)


def rhythm_of(times: Sequence[float | None]) -> Rhythm:
    """The rhythm of requests sent at `times` (None: the log gave no time for that one)."""
    timed = sorted(t for t in times if t is not None)
    n, untimed = len(timed), len(times) - len(timed)
    left_out = f"{untimed:,} of {len(times):,} requests carry no time and are not counted" if untimed and n else None
    if n < 2:
        why = ("no request carries a time: no log line's timestamp, no answer's created" if n == 0
               else "one request carries a time: a rate needs a span")
        return Rhythm(len(times), n, timed[0] if timed else None, timed[0] if timed else None, note=why)
    span = timed[-1] - timed[0]
    if span < MIN_SPAN_S:
        short = f"the times span {span_words(span)}, under an hour: too short to size a day's traffic from"
        return Rhythm(len(times), n, timed[0], timed[-1], note="; ".join(filter(None, [short, left_out])))
    rate = n / span * 86_400
    busiest = busiest_window(timed)
    # The busiest minute holds at least the mean; counted in whole requests, evenly spread traffic can
    # come out a hair under it (a request more than whole minutes hold), which is still a factor of 1.
    peak = max(1.0, busiest / (n / (span / 60)))
    return Rhythm(len(times), n, timed[0], timed[-1], rate, busiest, peak, left_out)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (DuckDB's quantile_cont, numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _spread(prefix: str, values: list[int]) -> dict[str, Any]:
    if not values:
        return {f"n_{prefix}": 0, f"{prefix}_p50": None, f"{prefix}_p95": None, f"{prefix}_max": None}
    return {f"n_{prefix}": len(values), f"{prefix}_p50": quantile(values, 0.5), f"{prefix}_p95": quantile(values, 0.95),
            f"{prefix}_max": max(values)}


def token_spreads(records: Sequence[TrafficRecord]) -> list[dict[str, Any]]:
    """Per kind of request whose logged answers report usage: how many report each count, and its
    p50, p95 and max."""
    found: dict[str, tuple[list[int], list[int]]] = {kind: ([], []) for kind in KINDS}
    for record in records:
        usage = (record.response or {}).get("usage")
        inputs, outputs = found[kind_of(record.request)]
        for key, into in (("prompt_tokens", inputs), ("completion_tokens", outputs)):
            value = _count(usage, key)
            if value is not None:
                into.append(value)
    return [{"kind": kind, **_spread("input", inputs), **_spread("output", outputs)}
            for kind, (inputs, outputs) in found.items() if inputs or outputs]
