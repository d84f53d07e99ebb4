"""Local-model throughput: the harness's `hf` provider beside `lm_eval --model hf` on the same docs.

The same ~200 generate_until docs from the core suite (the first N of each task), the embedded
SmolLM2-135M, greedy, float32, the chat template with few-shot turns as multiturn on both sides.
Runs alternate lm-eval, harness, lm-eval, harness … in one process; each is a child process timed
from start to exit. Per side: wall, samples/s, generated tokens/s (tokens of the returned text),
peak RSS; the ratio; and per-sample agreement of raw and filtered responses with lm-eval's.

Run:  .venv/bin/python -m bench.hf_throughput [--pairs 3] [--lm-eval-batch N]  (default: the sweep's best)
      .venv/bin/python -m bench.hf_throughput --sweep     # lm-eval at batch 1, 8, 32 and auto
Needs the data packs (`harness data pull`). Writes bench/results/hf_throughput.json (the sweep and
the comparison are kept side by side; each mode replaces only its own part).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.hf_runs import Samples, harness_command, harness_samples, lm_eval_command, lm_eval_samples, run_child
from harness.config.paths import providers_dir, tasks_dir
from harness.config.profiles import load_profile
from harness.providers.hf.weights import resolve_weights

OUT = Path(__file__).parent / "results" / "hf_throughput.json"
# The first N docs of each core task: short letter answers, and the long generations of CoT and code.
DOCS = {"pack_mmlu_gen_subset": 60, "pack_hellaswag_gen": 60, "pack_truthfulqa_mc1_gen": 60,
        "pack_gsm8k_cot": 10, "pack_humaneval": 10}
GFLOP_PER_TOKEN = 0.27  # SmolLM2-135M: ~2 x 135 M multiply-adds per token
GIB = 1 << 30


def write_tasks(folder: Path) -> list[str]:
    """Task variants that include the core task and keep its first N docs (one process per side)."""
    names = []
    folder.mkdir(parents=True, exist_ok=True)
    for task, size in DOCS.items():
        base = tasks_dir() / "benchmarks" / f"{task}.yaml"
        kwargs = {"size": size, **({"per_subject": 2} if task == "pack_mmlu_gen_subset" else {})}
        name = f"hfbench_{task.removeprefix('pack_')}"
        (folder / f"{name}.yaml").write_text(
            f"include: {base}\ntask: {name}\ntag: []\ndataset_kwargs: {json.dumps(kwargs)}\n")
        names.append(name)
    return names


def write_profile(folder: Path, batch_size: int, threads: int | None, dtype: str = "float32") -> Path:
    """The smollm2 profile (its cap, 512, leaves the tasks' own max_gen_toks as lm-eval applies them) with
    packed weights (an opt-in)."""
    text = (providers_dir() / "smollm2.toml").read_text()
    # lm-eval's hf backend applies no cap of its own: a lower one here would cut HumanEval's 512.
    assert "max_tokens = 512" in text, "smollm2.toml's cap no longer leaves the tasks' max_gen_toks"
    for old, new in (("batch_size = 16", f"batch_size = {batch_size}"), ('dtype = "float32"', f'dtype = "{dtype}"')):
        assert old in text, f"smollm2.toml no longer has '{old}'"
        text = text.replace(old, new)
    text = text.replace("[hf]\n", "[hf]\npacked_weights = true\n")  # the opt-in measured here (README)
    if threads:
        lines = [line for line in text.splitlines() if not line.startswith("threads =")]
        text = "\n".join(lines).replace("[hf]\n", f"[hf]\nthreads = {threads}\n") + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "smollm2.toml").write_text(text)
    return folder


def matmul_gflops(threads: int) -> float:
    """Best of 3 x 12 fp32 2048x2048 matmuls (after a warm-up): this machine's ceiling for dense model
    work at `threads`; measured before and after the runs, the higher one counts."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(36):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    torch.set_num_threads(before)
    return round(2 * 2048**3 / best / 1e9, 1)


def ceiling(previous: dict[str, float] | None = None) -> dict[str, float]:
    threads = sorted({1, torch.get_num_threads()})
    measured = {f"{t}_thread{'s' if t > 1 else ''}": matmul_gflops(t) for t in threads}
    return {k: max(v, (previous or {}).get(k, 0.0)) for k, v in measured.items()}


def run_side(side: str, tasks: list[str], work: Path, model_dir: Path, lm_eval_batch: str, profiles: Path,
             max_rss: int | None = None, timeout_s: float | None = None,
             lm_eval_threads: int | None = None) -> tuple[dict[str, Any], Samples]:
    """One timed run of one side; returns its figures and its samples. lm-eval's threads are set the
    only way it offers, OMP_NUM_THREADS (torch's default otherwise: one per core)."""
    work.mkdir(parents=True)
    include = work.parent / "tasks"
    if side == "lm_eval":
        command = lm_eval_command(model_dir, tasks, include, lm_eval_batch, work / "out")
        env = {"OMP_NUM_THREADS": str(lm_eval_threads)} if lm_eval_threads else {}
        child = run_child(command, env=env, max_rss=max_rss, timeout_s=timeout_s, log=work / "log.txt")
    else:
        command = harness_command(tasks, work / "h.duckdb", include=include)
        child = run_child(command, env={"HARNESS_PROVIDERS_DIR": str(profiles)}, max_rss=max_rss,
                          timeout_s=timeout_s, log=work / "log.txt")
    figures: dict[str, Any] = {"side": side, "wall_s": round(child.wall_s, 2), "returncode": child.returncode,
                               "peak_rss_gib": round(child.peak_rss / GIB, 3), "stopped": child.stopped}
    if child.returncode != 0:
        figures["log_tail"] = child.tail[-800:]
        return figures, {}
    return figures, lm_eval_samples(work / "out") if side == "lm_eval" else harness_samples(work / "h.duckdb")


def add_rates(figures: dict[str, Any], samples: Samples, tokenizer: Any) -> None:
    docs = {(t, d): raw for (t, d, _), (raw, _, _) in samples.items()}
    tokens = sum(len(tokenizer(raw, add_special_tokens=False)["input_ids"]) for raw in docs.values())
    figures.update(docs=len(docs), generated_tokens=tokens, samples_per_s=round(len(docs) / figures["wall_s"], 3),
                   tokens_per_s=round(tokens / figures["wall_s"], 2))


def agreement(reference: Samples, other: Samples) -> dict[str, Any]:
    """Per task: samples compared, identical filtered responses, identical raw responses; and the misses."""
    per_task: dict[str, dict[str, int]] = {}
    misses = []
    for key, (raw, filtered, _) in sorted(reference.items()):
        counts = per_task.setdefault(key[0], {"samples": 0, "identical_filtered": 0, "identical_raw": 0})
        mine = other.get(key)
        counts["samples"] += 1
        counts["identical_filtered"] += int(mine is not None and mine[1] == filtered)
        counts["identical_raw"] += int(mine is not None and mine[0] == raw)
        if mine is None or mine[1] != filtered:
            misses.append({"task": key[0], "doc_id": key[1], "filter": key[2], "reference": filtered,
                           "other": mine[1] if mine else "<missing>"})
    total = {k: sum(c[k] for c in per_task.values()) for k in ("samples", "identical_filtered", "identical_raw")}
    return {**total, "per_task": per_task, "differing": misses[:10]}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "samples_per_s", "tokens_per_s", "peak_rss_gib")
    return {f"median_{k}": statistics.median(r[k] for r in runs) for k in keys} | {"runs": len(runs)}


def compare(args: argparse.Namespace, model_dir: Path, tokenizer: Any, root: Path) -> dict[str, Any]:
    """Alternating pairs (lm-eval first in each); medians, the ratio and per-sample agreement."""
    tasks = write_tasks(root / "tasks")
    profiles = write_profile(root / "providers", args.batch_size, args.threads)
    runs: dict[str, list[dict[str, Any]]] = {"lm_eval": [], "harness": []}
    samples: dict[str, list[Samples]] = {"lm_eval": [], "harness": []}
    for pair in range(args.pairs):
        for side in ("lm_eval", "harness"):
            figures, got = run_side(side, tasks, root / f"{side}-{pair}", model_dir, args.lm_eval_batch, profiles,
                                    lm_eval_threads=args.lm_eval_threads)
            if figures["returncode"] != 0:
                raise SystemExit(f"{side} failed: {figures.get('log_tail', '')}")
            add_rates(figures, got, tokenizer)
            runs[side].append(figures)
            samples[side].append(got)
            print(f"pair {pair + 1} {side}: {figures['wall_s']:.0f} s, {figures['samples_per_s']:.2f} samples/s, "
                  f"{figures['tokens_per_s']:.1f} tokens/s, peak RSS {figures['peak_rss_gib']:.2f} GiB", flush=True)
    ratios = [h["samples_per_s"] / lm["samples_per_s"] for lm, h in zip(runs["lm_eval"], runs["harness"], strict=True)]
    reference = samples["lm_eval"][0]
    return {
        "settings": {"lm_eval_batch_size": args.lm_eval_batch, "lm_eval_threads": args.lm_eval_threads or "default",
                     "harness_batch_size": args.batch_size,
                     "harness_threads": args.threads or torch.get_num_threads(), "docs": DOCS, "dtype": "float32"},
        "lm_eval": summary(runs["lm_eval"]), "harness": summary(runs["harness"]),
        "ratio_samples_per_s": {"median_of_pairs": round(statistics.median(ratios), 3),
                                "pairs": [round(r, 3) for r in ratios]},
        "agreement_with_lm_eval_run_1": [agreement(reference, s) for s in samples["harness"]],
        "lm_eval_runs_agree": [agreement(reference, s)["identical_filtered"] for s in samples["lm_eval"][1:]],
        "runs": runs["lm_eval"] + runs["harness"],
    }


def sweep(args: argparse.Namespace, model_dir: Path, tokenizer: Any, root: Path) -> list[dict[str, Any]]:
    """lm-eval at each batch size (BATCH/THREADS also sets its threads), once; `auto` probes up to batch
    64 at the model's 8192-token length, so it runs under a memory cap and a time limit and records
    which one stopped it."""
    tasks = write_tasks(root / "tasks")
    rows, reference = [], None
    for spec in args.sweep_batches.split(","):
        batch, _, threads = spec.partition("/")
        guard: dict[str, Any] = {"max_rss": int(args.auto_max_rss_gib * GIB), "timeout_s": args.auto_timeout_s}
        guard = guard if batch == "auto" else {"timeout_s": args.run_timeout_s}
        figures, got = run_side("lm_eval", tasks, root / f"sweep-{batch}-{threads}", model_dir, batch, root,
                                lm_eval_threads=int(threads) if threads else None, **guard)
        figures.update(batch_size=batch, threads=threads or "default")
        if got:
            add_rates(figures, got, tokenizer)
            reference = reference or got
            figures["identical_filtered_vs_first"] = agreement(reference, got)["identical_filtered"]
        rows.append(figures)
        print(f"lm-eval batch {batch}: {json.dumps({k: v for k, v in figures.items() if k != 'log_tail'})}", flush=True)
    return rows


def add_ceiling_fractions(result: dict[str, Any], peak_gflops: float) -> None:
    """Generated tokens/s as model GFLOP/s, against the machine's matmul peak (prompt tokens, which cost
    the same per token and are most of the work here, are not counted)."""
    for side in ("lm_eval", "harness"):
        rate = result[side]["median_tokens_per_s"] * GFLOP_PER_TOKEN
        result[side]["generated_gflops_fraction_of_ceiling"] = round(rate / peak_gflops, 4)


def best_batch(report: dict[str, Any]) -> str:
    """The fastest completed batch size of the recorded lm-eval sweep at the default threads ("1" without one)."""
    runs = [r for r in report.get("lm_eval_sweep", {}).get("runs", [])
            if r.get("returncode") == 0 and r.get("threads") == "default" and "samples_per_s" in r]
    return str(max(runs, key=lambda r: r["samples_per_s"])["batch_size"]) if runs else "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--lm-eval-batch", default=None, help="lm-eval's batch size (default: the sweep's fastest)")
    parser.add_argument("--batch-size", type=int, default=32, help="the harness's batch size")
    parser.add_argument("--threads", type=int, default=None, help="the harness's threads (default: the profile's)")
    parser.add_argument("--lm-eval-threads", type=int, default=None, help="lm-eval's threads (default: torch's)")
    parser.add_argument("--sweep", action="store_true", help="only run lm-eval at each of --sweep-batches")
    parser.add_argument("--sweep-batches", default="1,8,32,auto,1/1", help="BATCH or BATCH/THREADS, comma-separated")
    parser.add_argument("--auto-max-rss-gib", type=float, default=10.0)
    parser.add_argument("--auto-timeout-s", type=float, default=1200.0)
    parser.add_argument("--run-timeout-s", type=float, default=3600.0, help="a sweep run taking longer is stopped")
    parser.add_argument("--docs", help="other doc counts, e.g. pack_gsm8k_cot=2,pack_humaneval=2 (a quick check)")
    args = parser.parse_args()
    if args.docs:
        DOCS.clear()
        DOCS.update({task: int(n) for task, n in (item.split("=") for item in args.docs.split(","))})
    from transformers import AutoTokenizer

    model_dir = resolve_weights(load_profile("smollm2")).folder
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    report = json.loads(OUT.read_text()) if OUT.is_file() else {}
    args.lm_eval_batch = args.lm_eval_batch or best_batch(report)
    report.update(bench="hf_throughput", machine={
        "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "torch_default_threads": torch.get_num_threads(), "torch": torch.__version__,
        "matmul_gflops_fp32": ceiling(),
        "gflop_per_token": GFLOP_PER_TOKEN})
    with tempfile.TemporaryDirectory() as tmp:
        if args.sweep:
            report["lm_eval_sweep"] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "docs": DOCS,
                                       "runs": sweep(args, model_dir, tokenizer, Path(tmp))}
        else:
            result = compare(args, model_dir, tokenizer, Path(tmp))
            report["machine"]["matmul_gflops_fp32"] = ceiling(report["machine"]["matmul_gflops_fp32"])
            add_ceiling_fractions(result, max(report["machine"]["matmul_gflops_fp32"].values()))
            report["comparison"] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), **result}
            print(json.dumps({k: result[k] for k in ("lm_eval", "harness", "ratio_samples_per_s")}, indent=1))
            for i, agree in enumerate(result["agreement_with_lm_eval_run_1"]):
                print(f"harness run {i + 1}: {agree['identical_filtered']}/{agree['samples']} identical filtered, "
                      f"{agree['identical_raw']}/{agree['samples']} identical raw responses")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
