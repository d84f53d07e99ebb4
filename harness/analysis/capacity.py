"""The self-hosting bill against the API bill, at the team's traffic and latency targets.

Self-hosted: from a load test of a server of the model (`load_points`), the highest concurrency per
replica whose p95 time to first token and p95 inter-token latency meet the targets (and whose errors
stay under 1%); its request rate is one replica's capacity; the replicas needed carry the peak rate
(requests per day / 86,400 x peak factor), and the month costs replicas x hardware $/hour x 730 h.
API: requests per day x 30.4 days x (input tokens x input price + output tokens x output price), with
the tokens per request measured on the compared runs. The requests per day and the peak factor are
the team's figures, or its imported traffic's (harness.analysis.sizing), and each bill says which.
Every assumption is returned as a line, and printed wherever a bill is shown.

What a load test measured is said, not assumed: when its server reported another model than the
profile being billed asks for (a `--serving` server of something else, or a server answering under
another name), the bill says so in its assumptions and is still given (a served model's name often
differs from a profile's for the same weights, so refusing would block honest uses; the line lets a
reader judge). Requests the load test left out because they need a feature the server's profile
declares absent (an eval scores them `unsupported`) are named too: the replicas are sized without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from harness.store.reads import fetch_dicts, latest_profile
from harness.traffic.rhythm import per_day

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 30.4
MAX_LOAD_ERROR_RATE = 0.01


@dataclass(frozen=True)
class Targets:
    """What the team needs: its volume and its latency objectives, and where the volume and the peak
    came from (harness.analysis.sizing: given, from the traffic, or by default)."""

    requests_per_day: float
    peak_factor: float = 3.0  # the peak rate over the mean (an imported traffic's: its busiest minute's)
    slo_ttft_ms: float = 1000.0  # p95 time to first token
    slo_itl_ms: float = 100.0  # p95 inter-token latency
    volume_from: str = "given"  # "given", or "from the traffic (import of <date>)"
    peak_from: str = "given"  # the same, or "by default (<why>)"

    @property
    def peak_rps(self) -> float:
        return self.requests_per_day / 86_400 * self.peak_factor

    def volume(self) -> str:
        return f"{per_day(self.requests_per_day)} requests/day {self.volume_from}"

    def figures(self) -> str:
        """The volume and the peak, each with its source (said once when they share one)."""
        peak = f"peak x{self.peak_factor:.4g}"
        if self.volume_from == self.peak_from:
            return f"{per_day(self.requests_per_day)} requests/day and {peak} {self.volume_from}"
        return f"{self.volume()}, {peak} {self.peak_from}"


@dataclass
class Bill:
    side: str  # "baseline" or "candidate"
    provider: str
    kind: str  # "api", "self-hosted" or "none"
    monthly_usd: float | None
    assumptions: list[str] = field(default_factory=list)
    replicas: int | None = None
    concurrency: int | None = None  # per replica, self-hosted


def choose_point(points: list[dict[str, Any]], targets: Targets) -> dict[str, Any] | None:
    """The highest-concurrency point meeting both p95 targets with under 1% errors, or None."""
    fit = [p for p in points if p["ttft_p95_ms"] is not None and p["ttft_p95_ms"] <= targets.slo_ttft_ms
           and (p["itl_p95_ms"] is None or p["itl_p95_ms"] <= targets.slo_itl_ms)
           and (p["error_rate"] or 0) < MAX_LOAD_ERROR_RATE and p["rps"]]
    return max(fit, key=lambda p: p["concurrency"]) if fit else None


def _same_model(a: str, b: str) -> bool:
    """One model under two spellings: case aside, with or without its organisation ('org/name')."""
    return a.lower() == b.lower() or a.lower().rsplit("/", 1)[-1] == b.lower().rsplit("/", 1)[-1]


def load_caveats(load: dict[str, Any], model: str | None) -> list[str]:
    """What the load test measured that is not the billed profile's full traffic: another model's
    server, requests left out (a feature absent), a partial run. One line each."""
    lines = []
    served = load.get("model_reported") or load.get("model")
    if model and served and not _same_model(served, model):
        lines.append(f"warning: load test {load['load_id']} measured a server of '{served}' (as reported), not "
                     f"of '{model}' (the model billed): this sizes another model's server; load-test a server "
                     "of the billed model to size it")
    if load.get("note"):
        left_out = "left out" in load["note"]
        lines.append(f"load test {load['load_id']}: {load['note']}"
                     + ("; those requests (unsupported where an eval sends them) are not in the sizing"
                        if left_out else ""))
    return lines


def self_hosted(side: str, provider: str, load: dict[str, Any], points: list[dict[str, Any]], hourly: float | None,
                targets: Targets, model: str | None = None) -> Bill:
    """Replicas and the monthly bill from one load test of a server of `model` (the billed profile's)."""
    bill = Bill(side, provider, "self-hosted", None)
    bill.assumptions.append(f"{targets.figures()} -> {targets.peak_rps:.3f} req/s at peak; targets p95 TTFT <= "
                            f"{targets.slo_ttft_ms:g} ms, p95 inter-token <= {targets.slo_itl_ms:g} ms")
    bill.assumptions += load_caveats(load, model)
    point = choose_point(points, targets)
    source = f"load test {load['load_id']} of {load['provider']} ({load['status']}, {load['started_at']:%Y-%m-%d})"
    if point is None:
        bill.assumptions.append(f"no concurrency level of {source} meets the targets: not servable at them as tested")
        return bill
    bill.concurrency = point["concurrency"]
    bill.replicas = max(1, math.ceil(targets.peak_rps / point["rps"]))
    bill.assumptions.append(f"one replica: concurrency {point['concurrency']} meets them at {point['rps']:.3f} req/s "
                            f"(p95 TTFT {point['ttft_p95_ms']:.0f} ms; {source})")
    if hourly is None:
        bill.assumptions.append("no hardware_usd_per_hour in the profile's [pricing]: replicas only, no bill")
        return bill
    bill.monthly_usd = bill.replicas * hourly * HOURS_PER_MONTH
    bill.assumptions.append(f"{bill.replicas} replica(s) x ${hourly:g}/h x {HOURS_PER_MONTH:g} h = "
                            f"${bill.monthly_usd:,.2f}/month")
    return bill


def api(side: str, provider: str, pricing: dict[str, Any], tokens: tuple[float, float, int],
        targets: Targets) -> Bill:
    """The monthly bill from token prices and the tokens a request takes on the compared runs."""
    input_tokens, output_tokens, measured = tokens
    price_in, price_out = pricing["input_usd_per_mtok"], pricing["output_usd_per_mtok"]
    per_request = (input_tokens * price_in + output_tokens * price_out) / 1e6
    monthly = targets.requests_per_day * DAYS_PER_MONTH * per_request
    return Bill(side, provider, "api", monthly, [
        f"{input_tokens:.0f} input + {output_tokens:.0f} output tokens per request (mean of {measured} generations "
        f"of the compared runs), ${price_in:g} / ${price_out:g} per 1M tokens (as of {pricing.get('as_of')})",
        f"{targets.volume()} x {DAYS_PER_MONTH:g} days x ${per_request:.6f} = ${monthly:,.2f}/month"])


_TOKENS = """
    select avg(input_tokens), avg(output_tokens), count(*) from generations
    where run_id in (select unnest(?::varchar[])) and input_tokens is not null and output_tokens is not null
"""
_LOAD = """
    select * from load_runs where provider = ? order by (status = 'complete') desc, started_at desc limit 1
"""


def bill_for(con: duckdb.DuckDBPyConnection, side: str, provider: str, run_ids: list[str], serving: str | None,
             targets: Targets) -> Bill:
    """An API bill where the profile has token prices, else a self-hosted one from its (or `serving`'s)
    latest load test, else none, with the reason."""
    stored = latest_profile(con, provider)
    pricing = (stored or {}).get("profile", {}).get("pricing") or {}
    if pricing.get("input_usd_per_mtok") is not None and pricing.get("output_usd_per_mtok") is not None:
        found = con.execute(_TOKENS, [run_ids]).fetchone()
        if found and found[2]:
            return api(side, provider, pricing, (found[0], found[1], found[2]), targets)
        return Bill(side, provider, "none", None, ["token prices but no token counts in the compared runs"])
    load = fetch_dicts(con.execute(_LOAD, [serving or provider]))
    if not load:
        hint = ("load-test a server of it (harness load -p SERVER ...) and pass --serving SERVER"
                if stored and stored["profile"].get("kind") == "hf" else f"run harness load -p {provider}")
        return Bill(side, provider, "none", None, [f"no load test of {serving or provider}: {hint}; the hf provider "
                                                   "is an offline batch engine, not a server"])
    points = fetch_dicts(con.execute("select * from load_points where load_id = ? order by concurrency",
                                     [load[0]["load_id"]]))
    hourly = pricing.get("hardware_usd_per_hour")
    if hourly is None and serving:  # the server's own hardware price, when the candidate's profile has none
        server = latest_profile(con, serving)
        hourly = ((server or {}).get("profile", {}).get("pricing") or {}).get("hardware_usd_per_hour")
    return self_hosted(side, provider, load[0], points, hourly, targets, (stored or {}).get("model"))
