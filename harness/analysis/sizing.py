"""Where a bill's volume and peak come from: the figures given on the command line, else the compared
suite's imported traffic (its rhythm: requests per day, and the busiest minute against the mean,
harness.traffic.rhythm), else a peak factor of 3 by default. Each figure is taken on its own, so a
given `--requests-per-day` still uses the traffic's peak factor unless `--peak-factor` is given too.

The traffic is the newest import of the suite the compared runs were made on. Runs over several
imported suites take no figure from any (the same requests may sit in two imports; adding them up
would be a guess): the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from harness.analysis.capacity import Targets
from harness.store.traffic import latest_imports
from harness.traffic.rhythm import per_day, span_words

DEFAULT_PEAK_FACTOR = 3.0


@dataclass(frozen=True)
class Sizing:
    """What the command line gave; a figure left None is the traffic's (or the default)."""

    requests_per_day: float | None = None
    peak_factor: float | None = None
    slo_ttft_ms: float = 1000.0
    slo_itl_ms: float = 100.0


def traffic_source(row: dict[str, Any]) -> str:
    return f"from the traffic (import of {row['imported_at']:%Y-%m-%d})"


def _traffic(imports: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The one import whose rhythm sizes the bill, or a note on why there is none."""
    if not imports:
        return None, None
    if len(imports) > 1:
        names = ", ".join(f"'{row['suite']}'" for row in imports)
        return None, (f"the compared runs cover {len(imports)} imported traffic suites ({names}); their rhythms "
                      "are not added up: give --requests-per-day")
    row = imports[0]
    if row.get("requests_per_day") is None:
        why = row.get("rhythm_note") or "imported before the harness kept the traffic's times; import it again"
        return None, f"traffic suite '{row['suite']}' has no rhythm: {why}"
    return row, f"traffic suite '{row['suite']}': {rhythm_words(row)}"


def resolve(con: duckdb.DuckDBPyConnection, sizing: Sizing,
            run_ids: list[str]) -> tuple[Targets | None, str | None]:
    """The targets the bills are sized at (None without a requests per day), and a note: what the
    traffic's figures rest on where one is used, or why there are no targets."""
    traffic, note = _traffic(latest_imports(con, run_ids))
    volume, volume_from = sizing.requests_per_day, "given"
    if volume is None and traffic is not None:
        volume, volume_from = float(traffic["requests_per_day"]), traffic_source(traffic)
    if volume is None:
        return None, note or ("no requests per day: give --requests-per-day, or import the suite's traffic "
                              "with the times its requests were sent")
    peak, peak_from = sizing.peak_factor, "given"
    if peak is None and traffic is not None and traffic.get("peak_factor") is not None:
        peak, peak_from = float(traffic["peak_factor"]), traffic_source(traffic)
    if peak is None:
        why = f" ({traffic['rhythm_note']})" if traffic is not None and traffic.get("rhythm_note") else ""
        peak, peak_from = DEFAULT_PEAK_FACTOR, f"by default{why}"
    used = traffic is not None and traffic_source(traffic) in (volume_from, peak_from)
    return Targets(volume, peak, sizing.slo_ttft_ms, sizing.slo_itl_ms, volume_from, peak_from), note if used else None


def rhythm_words(row: dict[str, Any]) -> str:
    """An import's rhythm in one line (a traffic_imports row)."""
    if row.get("requests_per_day") is None:
        return f"none ({row.get('rhythm_note') or 'imported before the harness kept the times'})"
    span = (row["last_at"] - row["first_at"]).total_seconds()
    peak = ("" if row.get("peak_factor") is None else
            f", peak factor {row['peak_factor']:.4g} (busiest minute {row['busiest_minute']} requests)")
    note = f"; {row['rhythm_note']}" if row.get("rhythm_note") else ""
    return (f"{per_day(row['requests_per_day'])} requests/day ({row['n_timed']:,} timed requests over "
            f"{span_words(span)}){peak}{note}")


def token_words(spreads: list[dict[str, Any]]) -> str:
    """Tokens per request by kind, from the logged usage (traffic_tokens rows)."""
    def three(row: dict[str, Any], side: str) -> str:
        if not row[f"n_{side}"]:
            return "none logged"
        return f"{row[f'{side}_p50']:.0f}/{row[f'{side}_p95']:.0f}/{row[f'{side}_max']}"

    return "; ".join(f"{row['kind']}: in {three(row, 'input')}, out {three(row, 'output')}" for row in spreads)
