"""A team's traffic at volume: importing 100,000 logged requests, then replaying them through the
openai provider against a loopback server at concurrency 32.

- Import, against a named peer: reading and parsing the same file with `json.loads` per line (the
  floor any importer pays). Pairs alternate (peer, import, peer, import); medians are reported.
- Replay, against the ideal (concurrency / server delay) and a named peer: the same requests sent by
  the provider alone (`OpenAIProvider.generate`, no lm-eval, scoring or store). The replay is the
  real path: `run_eval` on the imported suite (lm-eval tasks, the adapter, the feature guard, the
  store), timed over its generation window (first request handed over to last answer back), since
  start-up (imports, task loading) does not grow with volume. `REPLAYED` requests of the 100,000
  are replayed (all three kinds, in the file's proportions): at 0.2 s a request and 32 in flight
  the whole file would hold the server for ten minutes a pass.
Run: .venv/bin/python -m bench.traffic_replay   (writes bench/results/traffic_replay.json)
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench import delay_server
from bench.loopback import server_profile

os.environ.setdefault("TQDM_DISABLE", "1")

N_REQUESTS = 100_000
REPLAYED = 6_000  # 2,000 per task kind
CONCURRENCY = 32
DELAY_S = 0.2
PAIRS = 2
OUT = Path(__file__).parent / "results" / "traffic_replay.json"
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
SERVER_SETTINGS = """[openai]
concurrency = {concurrency}
timeout_s = 30

[capabilities]
system_prompt = true
tools = true
json_mode = true
json_schema = true
"""


def _answer(i: int, content: str | None, calls: list | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": f"c{i}", "object": "chat.completion", "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
            "usage": {"prompt_tokens": 30, "completion_tokens": 8},
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}]}


def synthetic_log(path: Path, n: int) -> None:
    """n request/response log lines: 60% multi-turn text under a system prompt, 25% tool calls
    (parallel calls, or a call and its result), 15% json_schema requests; every request distinct."""
    rng = random.Random(7)
    with open(path, "w") as out:
        for i in range(n):
            system = {"role": "system", "content": f"You are support agent {i % 97}. Be brief."}
            user = {"role": "user", "content": f"Question {i}: where is order {rng.randrange(10**6)}?"}
            roll = rng.random()
            if roll < 0.60:
                request = {"messages": [system, user, {"role": "assistant", "content": "Let me check."},
                                        {"role": "user", "content": f"Thanks, order {i}."}]}
                response = _answer(i, f"Order {i} ships tomorrow.")
            elif roll < 0.85:
                calls = [{"id": f"t{i}{k}", "type": "function", "function": {
                    "name": "get_weather", "arguments": json.dumps({"city": f"city{i}-{k}"})}} for k in range(2)]
                request = {"messages": [system, user], "tools": WEATHER}
                response = _answer(i, None, calls)
            else:
                request = {"messages": [user], "response_format": SCHEMA}
                response = _answer(i, json.dumps({"city": f"city{i}"}))
            out.write(json.dumps({"request": request, "response": response}) + "\n")


def parse_only(path: Path) -> float:
    started = time.perf_counter()
    with open(path, encoding="utf-8") as lines:
        count = sum(1 for line in lines if json.loads(line))
    assert count == N_REQUESTS
    return time.perf_counter() - started


def import_once(path: Path, name: str, db: Path) -> float:
    from harness.run.traffic_import import ImportOptions, import_traffic

    started = time.perf_counter()
    outcome = import_traffic(ImportOptions(path, name, db=db, force=True))
    elapsed = time.perf_counter() - started
    assert sum(outcome.counts.values()) == N_REQUESTS
    return elapsed


class _Window:
    """The runner's progress hooks, timing the generation window."""

    def __init__(self) -> None:
        self.first = self.last = 0.0
        self.done = 0

    def start(self, total: int) -> None:
        self.first = time.perf_counter()

    def advance(self, n: int = 1, errors: int = 0) -> None:
        self.done += n
        self.last = time.perf_counter()


def replay_eval(suite: str, db: Path, per_task: int) -> tuple[float, int]:
    from harness.run.runner import EvalOptions, run_eval

    window = _Window()
    outcome = run_eval(EvalOptions(provider="replay", suite=suite, db=db, limit=per_task, cache=False), window)
    assert outcome.n_errors == 0 and outcome.n_requests == window.done
    return window.done / (window.last - window.first), window.done


def replay_provider(requests: list) -> float:
    from harness.config.profiles import load_profile
    from harness.providers.openai.provider import OpenAIProvider

    provider = OpenAIProvider(load_profile("replay"))
    started = time.perf_counter()
    results = list(provider.generate(requests))
    elapsed = time.perf_counter() - started
    provider.close()
    assert len(results) == len(requests) and not any(r.error for r in results)
    return len(requests) / elapsed


def _requests(tasks: Path, suite: str, per_task: int) -> list:
    """The GenRequests the replay sends: the first `per_task` docs of each kind, as the adapter maps them."""
    from harness.run.lm_adapter import to_request
    from harness.traffic.replay import ReplayRequest, decoding

    found = []
    for folder in sorted((tasks / "traffic" / suite).iterdir()):
        with open(folder / "docs.jsonl", encoding="utf-8") as docs:
            for _, line in zip(range(per_task), docs, strict=False):
                request = ReplayRequest(json.loads(line)["request"])
                found.append(to_request(request, decoding(request.body(), {"max_gen_toks": 512}), 512, 1234))
    return found


def main() -> None:
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="traffic-bench-"))
    tasks, providers = work / "tasks", work / "providers"
    tasks.mkdir()
    providers.mkdir()
    os.environ.update(HARNESS_TASKS_DIR=str(tasks), HARNESS_PROVIDERS_DIR=str(providers),
                      HARNESS_RUNS_DIR=str(work / "runs"))
    source = work / "log.jsonl"
    synthetic_log(source, N_REQUESTS)
    size_mb = source.stat().st_size / 1e6
    parse_s, import_s = [], []
    for pair in range(PAIRS):
        parse_s.append(parse_only(source))
        import_s.append(import_once(source, "bench", work / f"import{pair}.duckdb"))
        print(f"pair {pair}: json.loads {parse_s[-1]:.1f} s, import {import_s[-1]:.1f} s")
    server, base_url = delay_server.start(DELAY_S)
    (providers / "replay.toml").write_text(server_profile(base_url, "delay", SERVER_SETTINGS.format(
        concurrency=CONCURRENCY)))
    per_task = REPLAYED // 3
    requests = _requests(tasks, "bench", per_task)
    ideal = CONCURRENCY / DELAY_S
    eval_rps, provider_rps = [], []
    try:
        for pair in range(PAIRS):
            rate, replayed = replay_eval("bench", work / f"replay{pair}.duckdb", per_task)
            eval_rps.append(rate)
            provider_rps.append(replay_provider(requests))
            print(f"pair {pair}: replay {eval_rps[-1]:.1f} req/s ({replayed} requests), "
                  f"provider alone {provider_rps[-1]:.1f} req/s, ideal {ideal:.0f}")
    finally:
        server.kill()
    result = {
        "bench": "traffic_replay", "machine": platform.machine(), "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "requests": N_REQUESTS, "file_mb": round(size_mb, 1),
        "import": {"peer": "json.loads per line", "import_s": import_s, "parse_s": parse_s,
                   "import_rows_per_s": N_REQUESTS / statistics.median(import_s),
                   "parse_rows_per_s": N_REQUESTS / statistics.median(parse_s),
                   "import_vs_parse": statistics.median(import_s) / statistics.median(parse_s)},
        "replay": {"peer": "OpenAIProvider.generate alone", "replayed": per_task * 3, "concurrency": CONCURRENCY,
                   "delay_s": DELAY_S, "ideal_rps": ideal, "replay_rps": eval_rps, "provider_rps": provider_rps,
                   "replay_of_ideal": statistics.median(eval_rps) / ideal,
                   "provider_of_ideal": statistics.median(provider_rps) / ideal,
                   "replay_vs_provider": statistics.median(eval_rps) / statistics.median(provider_rps)},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    imp, rep = result["import"], result["replay"]
    print(f"import: {imp['import_rows_per_s']:,.0f} rows/s "
          f"({imp['import_vs_parse']:.1f}x the time of json.loads alone)")
    print(f"replay: {rep['replay_of_ideal']:.2f} of ideal at c={CONCURRENCY} "
          f"(provider alone {rep['provider_of_ideal']:.2f}); written to {OUT}")


if __name__ == "__main__":
    main()
