"""Parity with lm-eval's own CLI: the same tasks, data, model and settings through `lm_eval --model hf`
and through the harness's `hf` provider; per-sample filtered responses and scores must match.

Run: .venv/bin/python -m bench.parity_lm_eval [--limit 20] [--tasks pack_gsm8k_cot,pack_mmlu_gen_subset]
Needs the data packs (`harness data pull`). Writes bench/results/parity_lm_eval.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.hf_runs import harness_command, harness_samples, lm_eval_command, lm_eval_samples, run_child
from harness.config.paths import tasks_dir
from harness.config.profiles import load_profile
from harness.providers.hf.weights import resolve_weights

OUT = Path(__file__).parent / "results" / "parity_lm_eval.json"


def run_side(command: list[str], log: Path) -> float:
    child = run_child(command, log=log)
    if child.returncode != 0:
        raise SystemExit(f"{command[2]} failed:\n{child.tail}")
    return child.wall_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--tasks", default="pack_gsm8k_cot,pack_mmlu_gen_subset")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    model_dir = resolve_weights(load_profile("smollm2")).folder
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        their_wall = run_side(lm_eval_command(model_dir, tasks, tasks_dir(), "1", work / "lm_eval", args.limit),
                              work / "lm_eval.log")
        theirs = {k: (f, s) for k, (_, f, s) in lm_eval_samples(work / "lm_eval").items()}
        our_wall = run_side(harness_command(tasks, work / "h.duckdb", limit=args.limit, batch_size=1), work / "h.log")
        ours = {k: (f, s) for k, (_, f, s) in harness_samples(work / "h.duckdb").items()}
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
