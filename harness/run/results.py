"""Turn lm-eval's results into store rows: one per doc x filter x metric, and one per task score.

Why per sample and not only lm-eval's aggregates: the comparison is paired (the same doc on both
providers), the losses are explained per doc (format miss, truncation, refusal, error), and cost and
latency come from each generation. A sample whose generation errored keeps its error, so analysis
can tell an outage from a wrong answer. Exactly one (metric, filter) per task is marked primary,
taken from the task's own config, so every later comparison picks the same pair.
"""

from __future__ import annotations

import json
import math
from typing import Any

from harness.config.profiles import Profile
from harness.config.suites import Suite
from harness.digest import sha256_hex
from harness.providers.base import GenResult


def _text(value: Any) -> str:
    """lm-eval hands back strings, chat JSON (JsonChatStr) or one-element lists; flatten to text."""
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    prompt = getattr(value, "prompt", None)
    return prompt if isinstance(prompt, str) else str(value)


def _cost(profile: Profile, result: GenResult | None) -> float | None:
    pricing = profile.pricing
    if result is None or pricing.input_usd_per_mtok is None or pricing.output_usd_per_mtok is None:
        return None
    tokens_in, tokens_out = result.input_tokens or 0, result.output_tokens or 0
    return (tokens_in * pricing.input_usd_per_mtok + tokens_out * pricing.output_usd_per_mtok) / 1e6


def _score(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def collect_samples(
    run_id: str, results: dict, by_doc: dict[tuple[str, int], GenResult], profile: Profile
) -> list[dict[str, Any]]:
    rows = []
    for task, entries in results.get("samples", {}).items():
        for entry in entries:
            doc_id = int(entry["doc_id"])
            gen = by_doc.get((task, doc_id))
            context = entry["arguments"][0][0] if entry["arguments"] else ""
            for metric in entry["metrics"]:
                rows.append({
                    "run_id": run_id, "task": task, "doc_id": doc_id, "filter": entry["filter"],
                    "metric": metric, "doc_hash": entry.get("doc_hash"),
                    "prompt_hash": entry.get("prompt_hash"), "target_hash": entry.get("target_hash"),
                    "prompt": _text(context), "target": _text(entry.get("target")),
                    "response": _text(entry["resps"][0]) if entry["resps"] else "",
                    "filtered": _text(entry["filtered_resps"][0]) if entry["filtered_resps"] else "",
                    "score": _score(entry.get(metric)),
                    "latency_ms": gen.latency_ms if gen else None,
                    "input_tokens": gen.input_tokens if gen else None,
                    "output_tokens": gen.output_tokens if gen else None,
                    "cost_usd": _cost(profile, gen), "error": gen.error if gen else None,
                })
    return rows


def primary_pair(config: dict, suite: Suite, task: str) -> tuple[str | None, str]:
    """The (metric, filter) a comparison uses: the suite's choice, else the task's first metric and filter."""
    chosen = suite.primary(task)
    metrics = [m.get("metric") for m in config.get("metric_list") or [] if isinstance(m, dict)]
    filters = [f.get("name") for f in config.get("filter_list") or [] if isinstance(f, dict)]
    metric = chosen.metric if chosen and chosen.metric else (str(metrics[0]) if metrics else None)
    filter_name = chosen.filter if chosen and chosen.filter else (str(filters[0]) if filters else "none")
    return metric, filter_name


def collect_task_scores(run_id: str, results: dict, suite: Suite) -> list[dict[str, Any]]:
    rows = []
    for task, metrics in results.get("results", {}).items():
        config = results.get("configs", {}).get(task, {})
        config_hash = sha256_hex(json.dumps(config, sort_keys=True, default=str), 16)
        n = results.get("n-samples", {}).get(task, {}).get("effective")
        primary = primary_pair(config, suite, task)
        gen_kwargs = json.dumps(config.get("generation_kwargs") or {}, sort_keys=True, default=str)
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filter_name = key.split(",", 1)
            stderr = _score(metrics.get(f"{metric}_stderr,{filter_name}"))
            rows.append({
                "run_id": run_id, "task": task, "metric": metric, "filter": filter_name,
                "value": _score(value), "stderr": stderr, "n": n, "weight": suite.weight(task),
                "task_version": str(results.get("versions", {}).get(task)),
                "num_fewshot": results.get("n-shot", {}).get(task), "config_hash": config_hash,
                "is_primary": (metric, filter_name) == primary, "gen_kwargs": gen_kwargs,
            })
    _ensure_one_primary(rows)
    return rows


def _ensure_one_primary(rows: list[dict[str, Any]]) -> None:
    """A suite may name a metric the task lacks: fall back to the first pair, as migration 0003 does."""
    for task in {r["task"] for r in rows}:
        mine = sorted((r for r in rows if r["task"] == task), key=lambda r: (r["metric"], r["filter"]))
        if not any(r["is_primary"] for r in mine):
            mine[0]["is_primary"] = True
