"""Parity with lm-eval's own CLI: the same tasks, data, model and settings through `lm_eval --model hf`
and through the harness's `hf` provider; per-sample filtered responses and scores must match.

Run: .venv/bin/python -m bench.parity_lm_eval [--limit 20] [--tasks pack_gsm8k_cot,pack_mmlu_gen_subset]
Needs the data packs (`harness data pull`). Writes bench/results/parity_lm_eval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from harness.paths import tasks_dir
from harness.profiles import load_profile
from harness.providers.hf_weights import resolve_weights

OUT = Path(__file__).parent / "results" / "parity_lm_eval.json"


def run_lm_eval(model_dir: Path, tasks: list[str], limit: int, out: Path) -> tuple[dict, float]:
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf",
        "--model_args", f"pretrained={model_dir},dtype=float32", "--tasks", ",".join(tasks),
        "--include_path", str(tasks_dir()), "--apply_chat_template", "--fewshot_as_multiturn",
        "--batch_size", "1", "--limit", str(limit), "--log_samples", "--output_path", str(out), "--seed", "1234",
    ]
    started = time.monotonic()
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    wall = time.monotonic() - started
    samples: dict[tuple[str, int, str], tuple[str, float]] = {}
    for path in out.rglob("samples_*.jsonl"):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in path.read_text().splitlines():
            row = json.loads(line)
            filtered = row["filtered_resps"][0]
            filtered = filtered[0] if isinstance(filtered, list) else filtered
            samples[(task, int(row["doc_id"]), row["filter"])] = (str(filtered), float(row["exact_match"]))
    return samples, wall


def run_harness(tasks: list[str], limit: int, db: Path) -> tuple[dict, float]:
    command = [sys.executable, "-m", "harness", "eval", "-p", "smollm2", "--batch-size", "1", "--limit", str(limit),
               "--db", str(db)] + [arg for t in tasks for arg in ("-t", t)]
    started = time.monotonic()
    subprocess.run(command, check=True)
    wall = time.monotonic() - started
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select task, doc_id, filter, filtered, score from samples").fetchall()
    finally:
        con.close()
    return {(t, d, f): (str(x), float(s)) for t, d, f, x, s in rows}, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--tasks", default="pack_gsm8k_cot,pack_mmlu_gen_subset")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    model_dir = resolve_weights(load_profile("smollm2")).folder
    with tempfile.TemporaryDirectory() as tmp:
        theirs, their_wall = run_lm_eval(model_dir, tasks, args.limit, Path(tmp) / "lm_eval")
        ours, our_wall = run_harness(tasks, args.limit, Path(tmp) / "harness.duckdb")
    report = {"bench": "parity_lm_eval", "limit": args.limit, "tasks": {}, "lm_eval_wall_s": their_wall,
              "harness_wall_s": our_wall, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for task in tasks:
        keys = sorted(k for k in theirs if k[0] == task)
        same = [k for k in keys if k in ours and ours[k][0] == theirs[k][0]]
        differing = [{"doc_id": k[1], "filter": k[2], "lm_eval": theirs[k][0],
                      "harness": ours.get(k, ("<missing>", 0.0))[0]} for k in keys if k not in same]
        filters = sorted({k[2] for k in keys})
        scores = {f: {"lm_eval": sum(theirs[k][1] for k in keys if k[2] == f) / max(1, sum(k[2] == f for k in keys)),
                      "harness": sum(ours[k][1] for k in keys if k[2] == f and k in ours)
                      / max(1, sum(k[2] == f for k in keys))} for f in filters}
        report["tasks"][task] = {"samples": len(keys), "identical_filtered": len(same), "scores": scores,
                                 "differing": differing[:10]}
        print(f"{task}: {len(same)}/{len(keys)} identical filtered responses; scores {scores}")
    print(f"wall: lm-eval {their_wall:.0f} s, harness {our_wall:.0f} s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
