"""What `harness capture` costs the incumbent's path: added latency and throughput, proxy against direct.

A loopback upstream answers every chat request after a fixed delay (bench/delay_server.py, its own
process); `harness capture` runs in front of it (its own process, writing every exchange: sample 1.0,
the most work); the client is aiohttp in this process, closed loop: C workers each sending the next
request when the last is answered. Per concurrency level (1 and 32), rounds alternate direct and
proxied runs of REQUESTS requests each; latency percentiles and throughput are per run, then the
median over rounds. Added latency is proxied minus direct at the same percentile; the peer is the
direct path itself. Goal: p99 added <= 2 ms, throughput >= 0.95 of direct.

Run:  .venv/bin/python -m bench.capture_overhead [--delay-ms 50] [--rounds 3]
      writes bench/results/capture_overhead.json and .md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import delay_server
from bench.result_files import write_results

ROOT = Path(__file__).resolve().parent.parent
LEVELS = {1: 300, 32: 3200}  # concurrency -> requests per run


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(base_url: str, concurrency: int, requests: int) -> dict[str, float]:
    body = {"model": "m", "messages": [{"role": "user", "content": "How long is the river?"}], "max_tokens": 16}
    latencies: list[float] = []
    remaining = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": "Bearer sk-bench"}) as session:
        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                async with session.post(f"{base_url}/chat/completions", json=body) as response:
                    await response.read()
                    assert response.status == 200, response.status
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return {"p50_ms": _percentile(latencies, 0.5), "p99_ms": _percentile(latencies, 0.99), "rps": requests / wall}


def _start_capture(upstream: str, out: Path, sample: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "harness", "capture", "--upstream", upstream, "--port", "0", "-o", str(out),
               "--sample", str(sample)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+/v1)", process.stdout.readline())
    assert found, process.stderr.read() if process.stderr else ""
    return process, found.group(1)


def measure(delay_ms: float, rounds: int, sample: float = 1.0) -> dict[str, Any]:
    upstream, upstream_url = delay_server.start(delay_ms / 1000)
    out = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    proxy, proxy_url = _start_capture(upstream_url, out, sample)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    try:
        for concurrency, requests in LEVELS.items():
            runs[str(concurrency)] = {"direct": [], "proxied": []}
            asyncio.run(_run(upstream_url, concurrency, min(requests, 100)))  # warm both paths' pools
            asyncio.run(_run(proxy_url, concurrency, min(requests, 100)))
            for round_no in range(rounds):
                order = [("direct", upstream_url), ("proxied", proxy_url)]
                for name, url in order if round_no % 2 == 0 else reversed(order):
                    runs[str(concurrency)][name].append(asyncio.run(_run(url, concurrency, requests)))
    finally:
        proxy.send_signal(signal.SIGINT)
        stopped, _ = proxy.communicate(timeout=60)
        upstream.terminate()
        upstream.wait()
        written = sum(len(p.read_text().splitlines()) for p in out.glob("*.jsonl"))
        subprocess.run(["rm", "-rf", str(out)], check=False)
    levels = {}
    for concurrency, sides in runs.items():
        median = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in sides.items()}
        levels[concurrency] = {**median, "added_p50_ms": median["proxied"]["p50_ms"] - median["direct"]["p50_ms"],
                               "added_p99_ms": median["proxied"]["p99_ms"] - median["direct"]["p99_ms"],
                               "throughput_ratio": median["proxied"]["rps"] / median["direct"]["rps"]}
    return {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "delay_ms": delay_ms, "rounds": rounds, "sample": sample,
            "requests": LEVELS, "load_1min_end": os.getloadavg()[0], "lines_written": written,
            "capture_summary": stopped.strip().splitlines()[-1:], "levels": levels, "runs": runs}


def markdown(report: dict[str, Any]) -> str:
    lines = ["# What capture costs the incumbent's path (bench/capture_overhead.py)\n",
             f"{report['when']}; upstream answers after {report['delay_ms']:.0f} ms; every exchange written "
             f"({report['lines_written']} lines); median of {report['rounds']} alternating rounds; load average "
             f"at the end {report['load_1min_end']:.1f} on 2 cores (client, proxy, writer and upstream share them).\n",
             "| concurrency | requests/run | direct p50 / p99 ms | proxied p50 / p99 ms | added p50 / p99 ms | "
             "direct req/s | proxied req/s | throughput ratio |", "|---|---|---|---|---|---|---|---|"]
    for concurrency, level in report["levels"].items():
        d, p = level["direct"], level["proxied"]
        requests = report["requests"][int(concurrency)]
        lines.append(f"| {concurrency} | {requests} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} | "
                     f"{p['p50_ms']:.2f} / {p['p99_ms']:.2f} | {level['added_p50_ms']:+.2f} / "
                     f"{level['added_p99_ms']:+.2f} | {d['rps']:.0f} | {p['rps']:.0f} | "
                     f"{level['throughput_ratio']:.3f} |")
    lines.append("\nGoal: p99 added <= 2 ms and throughput >= 0.95 of direct.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=float, default=1.0, help="capture's --sample (1: write every exchange)")
    args = parser.parse_args()
    report = measure(args.delay_ms, args.rounds, args.sample)
    write_results("capture_overhead", report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
