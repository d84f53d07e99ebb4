"""The traffic's rhythm: requests per day and the peak factor from the times a log's requests were
sent, and the tokens they take from the logged usage; stored with the import, and the bills sized from
them when the team gives no figures. The definitions on crafted times; then a planted arrival pattern
through the real CLI and a DuckDB file, up to the bills of `compare --serving` and `report`."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import stream_server
from bench.loopback import server_profile
from harness.analysis import sizing
from harness.analysis.sizing import Sizing
from harness.traffic.records import TrafficRecord
from harness.traffic.rhythm import busiest_window, quantile, rhythm_of, token_spreads
from tests.checks import query
from tests.conftest import run_harness

DAY = 86_400.0
T0 = datetime(2026, 3, 2, tzinfo=UTC)
# The planted pattern: a request every 2 minutes for 2 days, both ends included (1,441), and 59 more
# within 30 s of the grid request at hour 23h20 (a grid step is 120 s, so a minute holds one grid
# request at most): 1,500 requests over exactly 2 days, 750 a day; the busiest minute holds 60, the
# mean minute 1,500 / 2,880, so the peak factor is 60 x 2,880 / 1,500 = 115.2, and the peak rate
# 750 / 86,400 x 115.2 = 1 request a second.
GRID = [120.0 * i for i in range(1441)]
BURST = [84_000.0 + 0.5 * j for j in range(1, 60)]
PLANTED_PER_DAY, PLANTED_PEAK = 750.0, 115.2


def test_no_rhythm_without_two_times_or_under_an_hour() -> None:
    assert rhythm_of([None, None]).requests_per_day is None
    assert "no request carries a time" in rhythm_of([None]).line()
    one = rhythm_of([1000.0, None])
    assert one.requests_per_day is None and one.note == "one request carries a time: a rate needs a span"
    # Five requests in 4 s (the shipped sample log): no rate, no peak factor, and the line says why.
    short = rhythm_of([0.0, 1.0, 2.0, 3.0, 4.0])
    assert short.requests_per_day is None and short.peak_factor is None
    assert short.line() == "rhythm: none (the times span 4 s, under an hour: too short to size a day's traffic from)"
    # 59 minutes of one request a minute: still none; from an hour there is a rhythm.
    assert rhythm_of([60.0 * i for i in range(60)]).requests_per_day is None
    hour = rhythm_of([60.0 * i for i in range(61)])
    assert hour.requests_per_day == pytest.approx(61 / 3600 * DAY)
    # Evenly spread: the busiest minute holds one, the mean minute 61/60: a factor of 1, not 0.98.
    assert hour.busiest_minute == 1 and hour.peak_factor == 1.0


def test_the_planted_pattern_and_requests_without_a_time() -> None:
    planted = rhythm_of([*GRID, *BURST])
    assert planted.requests_per_day == pytest.approx(PLANTED_PER_DAY, rel=1e-12)
    assert planted.busiest_minute == 60 and planted.peak_factor == pytest.approx(PLANTED_PEAK, rel=1e-12)
    partly = rhythm_of([*GRID, *BURST, None, None])
    assert partly.requests_per_day == planted.requests_per_day  # counted over the timed requests only
    assert partly.note == "2 of 1,502 requests carry no time and are not counted"
    assert "2 request(s) without a time not counted" in partly.line()


def test_the_busiest_minute_is_any_60_seconds_not_a_clock_minute() -> None:
    # A burst of 10 from 0:55 to 1:04 is split 5/5 by clock minutes; any 60 s holds it whole.
    burst = [55.0 + i for i in range(10)]
    assert busiest_window(burst) == 10
    assert busiest_window([0.0, 60.0, 120.0]) == 1  # [t, t + 60 s): the next minute's request is not in it
    assert busiest_window([]) == 0


def test_token_spreads_per_kind_from_the_logged_usage() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    inclusive = statistics.quantiles(values, n=20, method="inclusive")  # linear, as DuckDB's quantile_cont
    assert quantile(values, 0.95) == pytest.approx(inclusive[18]) and quantile(values, 0.5) == statistics.median(values)
    text = {"messages": [{"role": "user", "content": "hi"}]}
    json_request = {**text, "response_format": {"type": "json_object"}}
    answer = {"choices": [{"message": {"role": "assistant", "content": "{}"}}]}
    records = [TrafficRecord(1, text, {**answer, "usage": {"prompt_tokens": 10, "completion_tokens": 2}}),
               TrafficRecord(2, text, {**answer, "usage": {"prompt_tokens": 30}}),  # no output count
               TrafficRecord(3, text, {**answer, "usage": {"prompt_tokens": "many", "completion_tokens": True}}),
               TrafficRecord(4, json_request, answer),  # no usage at all
               TrafficRecord(5, text)]  # no answer
    assert token_spreads(records) == [{"kind": "text", "n_input": 2, "input_p50": 20.0, "input_p95": 29.0,
                                       "input_max": 30, "n_output": 1, "output_p50": 2.0, "output_p95": 2.0,
                                       "output_max": 2}]


def _import(suite: str, per_day: float | None, peak: float | None = None, note: str | None = None) -> dict:
    first = datetime(2026, 3, 2)
    return {"suite": suite, "imported_at": datetime(2026, 3, 5, 9), "requests_per_day": per_day, "peak_factor": peak,
            "rhythm_note": note, "n_timed": 5, "first_at": first, "last_at": first + timedelta(seconds=4),
            "busiest_minute": 5}


def test_each_figure_given_overrides_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    def sized(imports: list[dict], given: Sizing) -> tuple:
        monkeypatch.setattr(sizing, "latest_imports", lambda con, run_ids: imports)
        return sizing.resolve(None, given, [])  # type: ignore[arg-type]

    too_short = "the times span under an hour: too short for a peak factor"
    targets, note = sized([_import("support", 7200.0, None, too_short)], Sizing())
    assert targets.figures() == (f"7,200 requests/day from the traffic (import of 2026-03-05), peak x3 by default "
                                 f"({too_short})")
    assert note == f"traffic suite 'support': 7,200 requests/day (5 timed requests over 4 s); {too_short}"
    targets, note = sized([_import("support", 7200.0, 2.5)], Sizing(requests_per_day=100.0))
    assert targets.figures() == "100 requests/day given, peak x2.5 from the traffic (import of 2026-03-05)"
    targets, note = sized([_import("support", 7200.0, 2.5)], Sizing(requests_per_day=100.0, peak_factor=4.0))
    assert targets.figures() == "100 requests/day and peak x4 given" and note is None
    assert sized([_import("a", 10.0), _import("b", 20.0)], Sizing()) == (None, (
        "the compared runs cover 2 imported traffic suites ('a', 'b'); their rhythms are not added up: "
        "give --requests-per-day"))
    assert sized([_import("plain", None, None, "no request carries a time")], Sizing()) == (
        None, "traffic suite 'plain' has no rhythm: no request carries a time")
    assert sized([], Sizing())[0] is None
    targets, note = sized([], Sizing(requests_per_day=10.0))
    assert targets.figures() == "10 requests/day given, peak x3 by default" and note is None


def _tokens(index: int, kind: str) -> tuple[int, int]:
    return (100 + index % 13, 8) if kind == "json" else (20 + index % 50, 5 + index % 7)


def _line(index: int, offset: float) -> str:
    kind = "json" if index % 10 == 0 and offset in GRID else "text"
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"Question {index}?"}]}
    content = f"Answer {index}."
    if kind == "json":
        request["response_format"] = {"type": "json_object"}
        content = json.dumps({"answer": index})
    prompt, completion = _tokens(index, kind)
    sent = T0 + timedelta(seconds=offset)
    response = {"id": f"chatcmpl-{index}", "object": "chat.completion", "created": int(sent.timestamp()),
                "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    return json.dumps({"timestamp": sent.isoformat().replace("+00:00", "Z"), "request": request, "response": response})


@pytest.fixture
def planted(tasks: Path, isolated_runs: Path, tmp_path: Path) -> tuple[Path, str]:
    """The planted log imported with its incumbent's answers: (database, the import's stdout)."""
    log = tmp_path / "rhythm.jsonl"
    log.write_text("\n".join(_line(i, t) for i, t in enumerate(sorted([*GRID, *BURST]))) + "\n")
    db = isolated_runs / "rhythm.duckdb"
    imported = run_harness("traffic", "import", str(log), "--name", "steady", "--incumbent", "gpt-4o", "--db", str(db))
    assert imported.returncode == 0, imported.stderr[-2000:]
    return db, imported.stdout


def _expected_tokens() -> dict[str, tuple]:
    found: dict[str, tuple[list[int], list[int]]] = {"json": ([], []), "text": ([], [])}
    for index, offset in enumerate(sorted([*GRID, *BURST])):
        kind = "json" if index % 10 == 0 and offset in GRID else "text"
        prompt, completion = _tokens(index, kind)
        found[kind][0].append(prompt)
        found[kind][1].append(completion)
    return {kind: tuple(x for values in pair for x in (len(values), statistics.median(values),
                                                      statistics.quantiles(values, n=20, method="inclusive")[18],
                                                      max(values)))
            for kind, pair in found.items()}


def _compare(db: Path, *sizing: str) -> dict:
    shown = run_harness("compare", "-b", "gpt-4o", "-c", "fake", "--suite", "steady", "--db", str(db), "-f", "json",
                        "--serving", "stream", *sizing)
    assert shown.returncode == 0, shown.stderr[-2000:]
    return json.loads(shown.stdout)


def _stored(db: Path, printed: str) -> str:
    """Check what the import printed and stored; return how a bill names it as a source."""
    assert ("rhythm: 750 requests/day (1,500 timed requests over 2.00 days), peak factor 115.2 (busiest minute 60 "
            "requests)") in printed
    stored = query(db, "select n_timed, first_at, last_at, requests_per_day, busiest_minute, peak_factor, rhythm_note, "
                       "imported_at from traffic_imports")
    assert stored[0][:3] == (1500, T0.replace(tzinfo=None), (T0 + timedelta(days=2)).replace(tzinfo=None))
    assert stored[0][3] == pytest.approx(PLANTED_PER_DAY, rel=1e-9) and stored[0][4] == 60
    assert stored[0][5] == pytest.approx(PLANTED_PEAK, rel=1e-9) and stored[0][6] is None
    tokens = query(db, "select kind, n_input, input_p50, input_p95, input_max, n_output, output_p50, output_p95, "
                       "output_max from traffic_tokens order by kind")
    expected = _expected_tokens()
    assert [row[0] for row in tokens] == ["json", "text"]
    for row in tokens:
        assert row[1:] == pytest.approx(expected[row[0]])
    return f"from the traffic (import of {stored[0][7]:%Y-%m-%d})"


def _load_test(db: Path, profiles: Path) -> None:
    """A candidate run, and a load test of a loopback server that streams (the self-hosted bill's points)."""
    assert run_harness("eval", "-p", "fake", "-s", "steady", "--db", str(db)).returncode == 0
    process, url = stream_server.start(50, 5, 8)
    (profiles / "stream.toml").write_text(server_profile(url, "stream-1", "[openai]\nconcurrency = 64\n\n"
                                                                          "[pricing]\nhardware_usd_per_hour = 1.2"))
    try:
        loaded = run_harness("load", "-p", "stream", "--traffic", "steady", "--concurrency", "1,2", "--duration", "2",
                             "--db", str(db))
    finally:
        process.kill()
    assert loaded.returncode == 0, loaded.stderr[-2000:]


def test_a_planted_rhythm_is_stored_and_sizes_the_bills(planted: tuple[Path, str], profiles: Path,
                                                        tmp_path: Path) -> None:
    db, printed = planted
    source = _stored(db, printed)
    _load_test(db, profiles)
    per_request = query(db, "select avg(input_tokens) * 2.5 + avg(output_tokens) * 10.0 from generations g "
                            "join runs r using (run_id) where r.source = 'imported'")[0][0] / 1e6

    # No figures given: the traffic's, said so on every bill.
    shown = _compare(db)
    assert shown["sizing"] == {"requests_per_day": pytest.approx(PLANTED_PER_DAY), "requests_per_day_from": source,
                               "peak_factor": pytest.approx(PLANTED_PEAK), "peak_factor_from": source,
                               "slo_ttft_ms": 1000.0, "slo_itl_ms": 100.0}
    assert shown["sizing_note"] == ("traffic suite 'steady': 750 requests/day (1,500 timed requests over 2.00 days), "
                                    "peak factor 115.2 (busiest minute 60 requests)")
    bills = {b["side"]: b for b in shown["bills"]}
    assert bills["baseline"]["monthly_usd"] == pytest.approx(PLANTED_PER_DAY * 30.4 * per_request)
    assert f"750 requests/day {source} x 30.4 days" in bills["baseline"]["assumptions"][1]
    assert bills["candidate"]["kind"] == "self-hosted" and bills["candidate"]["replicas"] == 1
    assert bills["candidate"]["assumptions"][0].startswith(
        f"750 requests/day and peak x115.2 {source} -> 1.000 req/s at peak")

    # Given figures override, each on its own.
    volume = _compare(db, "--requests-per-day", "100000")
    bills = {b["side"]: b for b in volume["bills"]}
    assert bills["baseline"]["monthly_usd"] == pytest.approx(100_000 * 30.4 * per_request)
    assert bills["candidate"]["assumptions"][0].startswith(
        f"100,000 requests/day given, peak x115.2 {source} -> 133.333 req/s at peak")
    both = _compare(db, "--requests-per-day", "100000", "--peak-factor", "3")
    assert both["sizing"]["requests_per_day_from"] == both["sizing"]["peak_factor_from"] == "given"
    assert both["sizing_note"] is None

    out = tmp_path / "review.html"
    report = run_harness("report", "-b", "gpt-4o", "-c", "fake", "--suite", "steady", "-o", str(out),
                         "--serving", "stream", "--db", str(db))
    assert report.returncode == 0, report.stderr[-2000:]
    page = out.read_text()
    assert f"750 requests/day {source} x 30.4 days" in page
    assert f"750 requests/day and peak x115.2 {source} -&gt; 1.000 req/s at peak" in page
    assert "Rhythm: 750 requests/day (1,500 timed requests over 2.00 days), peak factor 115.2" in page
