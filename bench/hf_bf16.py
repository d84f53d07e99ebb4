"""bfloat16 as an opt-in for the `hf` provider on CPU: its speed and its effect on scores.

The same docs as bench/hf_throughput.py, the harness alone at float32 and at bfloat16, alternating
(float32 first in each pair). Per dtype: wall, samples/s, peak RSS, the mean score per task; and how
many filtered responses bfloat16 changes. Writes the `bf16` part of bench/results/hf_throughput.json.

Run:  .venv/bin/python -m bench.hf_bf16 [--pairs 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.hf_runs import Samples
from bench.hf_throughput import OUT, add_rates, agreement, run_side, write_profile, write_tasks
from harness.config.profiles import load_profile
from harness.providers.hf.weights import resolve_weights


def task_scores(samples: Samples) -> dict[str, float]:
    by_task: dict[str, list[float]] = {}
    for (task, _, _), (_, _, score) in samples.items():
        by_task.setdefault(task, []).append(score)
    return {task: round(statistics.mean(scores), 4) for task, scores in sorted(by_task.items())}


def bf16_flags() -> list[str]:
    """The CPU's bfloat16 instructions as the kernel lists them (oneDNN uses AMX or AVX512-BF16 if present)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
    return sorted({f for f in flags if "bf16" in f})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="the harness's threads (default: the profile's)")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    model_dir = resolve_weights(load_profile("smollm2")).folder
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    runs: dict[str, list[dict[str, Any]]] = {"float32": [], "bfloat16": []}
    samples: dict[str, Samples] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tasks = write_tasks(root / "tasks")
        for pair in range(args.pairs):
            for dtype in runs:
                profiles = write_profile(root / f"providers-{dtype}", args.batch_size, args.threads, dtype)
                figures, got = run_side("harness", tasks, root / f"{dtype}-{pair}", model_dir, "1", profiles)
                if figures["returncode"] != 0:
                    raise SystemExit(f"{dtype} failed: {figures.get('log_tail', '')}")
                add_rates(figures, got, tokenizer)
                figures["scores"] = task_scores(got)
                runs[dtype].append(figures)
                samples.setdefault(dtype, got)
                print(f"pair {pair + 1} {dtype}: {figures['wall_s']:.0f} s, {figures['samples_per_s']:.2f} samples/s,"
                      f" peak RSS {figures['peak_rss_gib']:.2f} GiB, scores {figures['scores']}", flush=True)
    same = agreement(samples["float32"], samples["bfloat16"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": {"torch_capability": torch.backends.cpu.get_cpu_capability(), "bf16_flags": bf16_flags()},
        "settings": {"batch_size": args.batch_size, "threads": args.threads or "profile"},
        "median_wall_s": {d: statistics.median(r["wall_s"] for r in rs) for d, rs in runs.items()},
        "speedup_bf16": round(statistics.median(r["wall_s"] for r in runs["float32"])
                              / statistics.median(r["wall_s"] for r in runs["bfloat16"]), 3),
        "scores": {d: rs[0]["scores"] for d, rs in runs.items()},
        "identical_filtered": {"of": same["samples"], "same": same["identical_filtered"],
                               "per_task": same["per_task"]},
        "runs": runs,
    }
    report = json.loads(OUT.read_text()) if OUT.is_file() else {}
    report["bf16"] = result
    OUT.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: result[k] for k in ("median_wall_s", "speedup_bf16", "scores")}, indent=1))
    print(f"bfloat16 left {same['identical_filtered']}/{same['samples']} filtered responses unchanged")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
