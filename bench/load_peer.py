"""`harness load` beside guidellm (vLLM's load tool, the named peer), same server, same levels, same
prompts: a loopback server streaming 16 tokens, the first after 150 ms and then one every 15 ms, at
concurrency 1, 4 and 16. Pairs alternate (harness, guidellm, harness, guidellm); medians per level.
Both tools must find the server's delays back, and agree with each other within 10%.

guidellm pulls torch and transformers of its own choosing, which the harness's locked venv must not
take: it lives in its own venv (`make guidellm` makes `.venv-guidellm`, or set $GUIDELLM to a
guidellm binary). Without it the bench says so and stops.
Run: .venv/bin/python -m bench.load_peer   (writes bench/results/load_peer.json)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import stream_server
from bench.loopback import server_profile

TTFT_MS, ITL_MS, TOKENS = 150.0, 15.0, 16
LEVELS = (1, 4, 16)
SECONDS = 15.0  # per level
PAIRS = 2
ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "results" / "load_peer.json"
METRICS = ("ttft_p50_ms", "itl_p50_ms", "e2e_p50_ms", "rps")
SERVER_SETTINGS = "[openai]\nconcurrency = 64"


def guidellm_binary() -> str | None:
    found = os.environ.get("GUIDELLM") or str(ROOT / ".venv-guidellm" / "bin" / "guidellm")
    return found if Path(found).is_file() else shutil.which("guidellm")


def ours(db: Path) -> dict[int, dict[str, float]]:
    from harness.run.load import LoadOptions, run_load

    outcome = run_load(LoadOptions("stream", traffic="bench", concurrency=list(LEVELS), duration_s=SECONDS,
                                   max_requests=100_000, max_tokens=TOKENS, db=db))
    assert outcome.status == "complete"
    return {p["concurrency"]: {m: p[m] for m in METRICS} for p in outcome.points}


def peer(binary: str, url: str, prompts: Path, work: Path) -> dict[int, dict[str, float]]:
    report = work / f"guidellm-{time.monotonic_ns()}.json"
    command = [
        binary, "run", "--backend", f"kind=openai_http,target={url},model=stream-1,request_format=/v1/chat/completions,"
        f"stream=true,validate_backend=false,max_tokens={TOKENS}",
        "--profile", "kind=concurrent,streams=1,warmup=1", "--override", "profile.streams",
        ",".join(str(level) for level in LEVELS), "--constraint", f"kind=max_duration,seconds={SECONDS:g}",
        "--data", f"kind=json_file,path={prompts}", "--output", f"kind=json,path={report}",
        "--disable-console-interactive", "--disable-console-outputs",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(command, check=True, capture_output=True, timeout=600, env=env)
    found = {}
    for bench in json.loads(report.read_text())["benchmarks"]:
        metrics = bench["metrics"]
        found[int(bench["config"]["strategy"]["streams"])] = {
            "ttft_p50_ms": metrics["time_to_first_token_ms"]["successful"]["percentiles"]["p50"],
            "itl_p50_ms": metrics["inter_token_latency_ms"]["successful"]["percentiles"]["p50"],
            "e2e_p50_ms": metrics["request_latency"]["successful"]["percentiles"]["p50"] * 1000,
            "rps": metrics["requests_per_second"]["successful"]["mean"],
        }
    return found


def main() -> None:
    binary = guidellm_binary()
    if binary is None:
        sys.exit("guidellm is not installed: run `make guidellm` (its own venv) or set $GUIDELLM")
    work = Path(tempfile.mkdtemp(prefix="load-peer-"))
    for name in ("tasks", "providers"):
        (work / name).mkdir()
    os.environ.update(HARNESS_TASKS_DIR=str(work / "tasks"), HARNESS_PROVIDERS_DIR=str(work / "providers"),
                      HARNESS_RUNS_DIR=str(work / "runs"))
    texts = [f"Question {i}: where is order {1000 + i}? Answer in one line." for i in range(2000)]
    (work / "traffic.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": t}]}) + "\n"
                                                for t in texts))
    (work / "prompts.jsonl").write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    from harness.run.traffic_import import ImportOptions, import_traffic

    import_traffic(ImportOptions(work / "traffic.jsonl", "bench", db=work / "runs.duckdb"))
    server, url = stream_server.start(TTFT_MS, ITL_MS, TOKENS)
    (work / "providers" / "stream.toml").write_text(server_profile(url, "stream-1", SERVER_SETTINGS))
    runs: dict[str, list[dict[int, dict[str, float]]]] = {"harness": [], "guidellm": []}
    try:
        for pair in range(PAIRS):
            runs["harness"].append(ours(work / f"load{pair}.duckdb"))
            runs["guidellm"].append(peer(binary, url, work / "prompts.jsonl", work))
    finally:
        server.kill()
    rows = []
    expected = {"ttft_p50_ms": TTFT_MS, "itl_p50_ms": ITL_MS, "e2e_p50_ms": TTFT_MS + ITL_MS * (TOKENS - 1)}
    for level in LEVELS:
        row: dict[str, object] = {"concurrency": level}
        for metric in METRICS:
            ours_value = statistics.median(run[level][metric] for run in runs["harness"])
            theirs = statistics.median(run[level][metric] for run in runs["guidellm"])
            ideal = expected.get(metric, level / (expected["e2e_p50_ms"] / 1000))
            row[metric] = {"harness": ours_value, "guidellm": theirs, "ratio": ours_value / theirs,
                           "configured": ideal, "harness_of_configured": ours_value / ideal}
        rows.append(row)
        print(f"c={level:>2} " + " | ".join(
            f"{m}: harness {row[m]['harness']:.1f} guidellm {row[m]['guidellm']:.1f} "  # type: ignore[index]
            f"(ratio {row[m]['ratio']:.3f}; configured {row[m]['configured']:.1f})" for m in METRICS))  # type: ignore[index]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "bench": "load_peer", "peer": "guidellm 0.8.1 (own venv)", "server": {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS,
                                                                               "tokens": TOKENS},
        "seconds_per_level": SECONDS, "pairs": PAIRS, "machine": platform.machine(), "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows, "runs": runs}, indent=2, default=str))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
