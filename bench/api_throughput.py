"""Throughput of the `openai` provider against a loopback server that answers after a fixed delay,
beside lm-eval's own `local-chat-completions` backend at the same concurrency, in the same run.

Ideal throughput at concurrency c with delay d is c/d requests per second; both clients are shown as
a fraction of it. Pairs alternate (harness, lm-eval, harness, lm-eval …); medians are reported.
Run: .venv/bin/python -m bench.api_throughput   (writes bench/results/api_throughput.json)
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

from bench import delay_server
from harness.config.profiles import Profile
from harness.providers.base import GenRequest, Message
from harness.providers.openai.provider import OpenAIProvider

os.environ.setdefault("TQDM_DISABLE", "1")

DELAY_S = 0.2
CONCURRENCY = (1, 8, 32)
PAIRS = 3
OUT = Path(__file__).parent / "results" / "api_throughput.json"
OPENNESS = {"class": "proprietary", "licence": "proprietary", "weights": False, "code": False, "data": False}


def requests_for(concurrency: int, round_id: str) -> list[str]:
    # Twenty full waves at this concurrency (sustained throughput, not connection set-up);
    # unique texts defeat any caching.
    return [f"{round_id} question {i}" for i in range(max(40, concurrency * 20))]


def run_harness(base_url: str, concurrency: int, texts: list[str]) -> float:
    profile = Profile.model_validate({
        "name": "bench", "kind": "openai", "model": "scripted", "base_url": base_url, "openness": OPENNESS,
        "openai": {"concurrency": concurrency, "timeout_s": 30},
    })
    provider = OpenAIProvider(profile)
    requests = [GenRequest(messages=(Message("user", t),), max_tokens=8, stop=("\n",)) for t in texts]
    started = time.perf_counter()
    results = list(provider.generate(requests))
    elapsed = time.perf_counter() - started
    provider.close()
    assert len(results) == len(texts) and not any(r.error for r in results)
    return len(texts) / elapsed


def run_lm_eval(base_url: str, concurrency: int, texts: list[str]) -> float:
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr
    from lm_eval.models.openai_completions import LocalChatCompletion

    lm = LocalChatCompletion(base_url=f"{base_url}/chat/completions", model="scripted", num_concurrent=concurrency,
                             max_retries=3, tokenized_requests=False, tokenizer_backend=None, timeout=30)
    instances = [
        Instance(request_type="generate_until", doc={}, idx=i,
                 arguments=(JsonChatStr(json.dumps([{"role": "user", "content": t}])), {"until": ["\n"],
                                                                                       "max_gen_toks": 8}))
        for i, t in enumerate(texts)
    ]
    started = time.perf_counter()
    answers = lm.generate_until(instances, disable_tqdm=True)
    elapsed = time.perf_counter() - started
    assert len(answers) == len(texts) and all(a.startswith("ok") for a in answers)
    return len(texts) / elapsed


def main() -> None:
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    rows = []
    server, base_url = delay_server.start(DELAY_S)
    try:
        for concurrency in CONCURRENCY:
            ideal = concurrency / DELAY_S
            ours, theirs = [], []
            for pair in range(PAIRS):
                ours.append(run_harness(base_url, concurrency, requests_for(concurrency, f"h{pair}")))
                theirs.append(run_lm_eval(base_url, concurrency, requests_for(concurrency, f"l{pair}")))
            row = {
                "concurrency": concurrency, "ideal_rps": ideal,
                "harness_rps": statistics.median(ours), "lm_eval_rps": statistics.median(theirs),
                "harness_of_ideal": statistics.median(ours) / ideal,
                "lm_eval_of_ideal": statistics.median(theirs) / ideal,
                "harness_vs_lm_eval": statistics.median(ours) / statistics.median(theirs),
                "harness_runs": ours, "lm_eval_runs": theirs,
            }
            rows.append(row)
            print(f"c={concurrency:>2}  ideal {ideal:6.1f} req/s | harness {row['harness_rps']:6.1f} "
                  f"({row['harness_of_ideal']:.2f} of ideal) | lm-eval local-chat-completions "
                  f"{row['lm_eval_rps']:6.1f} ({row['lm_eval_of_ideal']:.2f}) | ratio {row['harness_vs_lm_eval']:.2f}")
    finally:
        server.kill()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "bench": "api_throughput", "delay_s": DELAY_S, "pairs": PAIRS, "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows,
    }, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
