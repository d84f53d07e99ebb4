"""One decode step of the `hf` provider's batched mode at 8, 16 and 32 rows, against the matmul ceiling.

The embedded SmolLM2-135M, float32, greedy, the profile's threads. Each row is a prompt of its own
length (about 100 to 900 tokens; the core bench's rows hold about 480 positions on average while they
decode), 48 new tokens. A step is timed around the decoder's `_decode` call; only steps where every
row is still in flight count; the median is reported.

- ceiling: the step's dense work (rows x 0.27 GFLOP) at this machine's fp32 matmul peak, measured
  before and after (the higher counts) two ways: `torch.matmul` on 2048x2048 (the BLAS sgemm, the
  figure the README used before) and oneDNN with the weight packed (what the decoder now uses).
- linears alone: the model's own linear layers and output layer at that many rows, through sgemm and
  through oneDNN packed weights (no attention, no norms, no Python around them).
- peer ("before"): a second copy of the model decoding as before this bench's changes (sgemm linear
  layers, per-row attention), alternating with the current decoder with `packed_weights = true`.

Run:  .venv/bin/python -m bench.hf_decode_step [--pairs 2]     writes bench/results/hf_decode_step.json
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from bench.hf_throughput import GFLOP_PER_TOKEN, ceiling
from harness.config.profiles import load_profile
from harness.providers.base import GenRequest, Message
from harness.providers.hf import decode as hf_decode
from harness.providers.hf import packed
from harness.providers.hf.provider import HFProvider

OUT = Path(__file__).parent / "results" / "hf_decode_step.json"
ROWS = (8, 16, 32)
SENTENCE = "The committee met on Tuesday to review the budget, the schedule and the open questions. "
REPEATS = (6, 12, 24, 36, 48, 60, 10, 30)  # about 100 to 900 tokens each, cycled over the rows


def requests(rows: int) -> list[GenRequest]:
    return [GenRequest(messages=(Message("user", f"Note {i}: " + SENTENCE * REPEATS[i % len(REPEATS)]
                                         + "Summarise the notes."),), max_tokens=48) for i in range(rows)]


def step_ms(provider: HFProvider, rows: int, per_row_attention: bool) -> dict[str, Any]:
    """Median full-batch step (ms) over one generate call; per-row attention by running without a pool."""
    decoder = provider.decoder
    decoder.slots = rows
    times: list[float] = []
    decode = decoder._decode

    def timed(active: list[Any]) -> list[int]:
        started = time.perf_counter()
        tokens = decode(active)
        if len(active) == rows:
            times.append(time.perf_counter() - started)
        return tokens

    pool = hf_decode.SlotPool
    decoder._decode = timed
    if per_row_attention:
        hf_decode.SlotPool = lambda *_: None  # type: ignore[assignment,misc]
    try:
        contexts = [len(provider._encode(r)) for r in requests(rows)]
        list(provider.generate(requests(rows)))
    finally:
        hf_decode.SlotPool = pool  # type: ignore[misc]
        del decoder._decode
    return {"median_ms": round(1000 * statistics.median(times), 1), "steps": len(times),
            "mean_prompt_tokens": round(statistics.mean(contexts), 1)}


def linears_ms(provider: HFProvider, rows: int, repeats: int = 20) -> float:
    """The model's linear layers and output layer, each once at `rows` rows (packed ones through oneDNN):
    best of `repeats` passes."""
    layers = [m for m in provider.model.modules() if isinstance(m, torch.nn.Linear)]
    calls = []
    for layer in layers:
        x = torch.randn(rows, layer.in_features)
        packed_weight = getattr(layer, "_harness_packed", None)
        if packed_weight is not None:
            calls.append(functools.partial(packed.apply, x, packed_weight, layer.bias))
        else:
            calls.append(functools.partial(F.linear, x, layer.weight, layer.bias))
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            for call in calls:
                call()
            best = min(best, time.perf_counter() - started)
    return round(1000 * best, 1)


def onednn_gflops() -> float:
    """Best of 36 fp32 2048x2048 products through oneDNN with the weight packed (after a warm-up)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    weight = packed.pack(b)
    packed.apply(a, weight, None)
    best = float("inf")
    for _ in range(36):
        started = time.perf_counter()
        packed.apply(a, weight, None)
        best = min(best, time.perf_counter() - started)
    return round(2 * 2048**3 / best / 1e9, 1)


def smollm2(packed_weights: bool) -> HFProvider:
    """The smollm2 profile, with or without packed weights ("before": without, and per-row attention)."""
    profile = load_profile("smollm2")
    assert profile.hf is not None
    settings = profile.hf.model_copy(update={"packed_weights": packed_weights})
    return HFProvider(profile.model_copy(update={"hf": settings}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    peaks = {"sgemm": max(ceiling().values()), "onednn": onednn_gflops()}
    before, after = smollm2(packed_weights=False), smollm2(packed_weights=True)
    for side in (before, after):
        list(side.generate(requests(4)))  # warm-up
    results: dict[int, dict[str, Any]] = {}
    for rows in ROWS:
        runs: dict[str, list[dict[str, Any]]] = {"after": [], "before": []}
        for _ in range(args.pairs):
            runs["before"].append(step_ms(before, rows, per_row_attention=True))
            runs["after"].append(step_ms(after, rows, per_row_attention=False))
        results[rows] = {"runs": runs, "linears_alone_ms": {"sgemm": linears_ms(before, rows),
                                                            "onednn_packed": linears_ms(after, rows)}}
        print(f"{rows} rows: {json.dumps(results[rows])}", flush=True)
    peaks = {"sgemm": max(peaks["sgemm"], *ceiling().values()), "onednn": max(peaks["onednn"], onednn_gflops())}
    report: dict[str, Any] = {"bench": "hf_decode_step", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "matmul_gflops_fp32": peaks, "gflop_per_token": GFLOP_PER_TOKEN,
                              "threads": torch.get_num_threads(), "pairs": args.pairs, "steps": {}}
    for rows, result in results.items():
        now = statistics.median(r["median_ms"] for r in result["runs"]["after"])
        then = statistics.median(r["median_ms"] for r in result["runs"]["before"])
        ceilings = {k: round(1000 * rows * GFLOP_PER_TOKEN / v, 1) for k, v in peaks.items()}
        report["steps"][str(rows)] = {
            "step_ms": now, "before_step_ms": then, "before_over_now": round(then / now, 2),
            "ceiling_ms": ceilings, "step_over_ceiling": {k: round(now / v, 2) for k, v in ceilings.items()},
            **result}
        print(f"{rows} rows: step {now} ms (before {then} ms, x{then / now:.2f}); ceiling {ceilings} ms -> "
              f"{ {k: round(now / v, 2) for k, v in ceilings.items()} }; linears alone {result['linears_alone_ms']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
