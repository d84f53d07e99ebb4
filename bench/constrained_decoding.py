"""Grammar engines for the `hf` provider's constrained JSON: xgrammar, llguidance, outlines-core.

On the embedded SmolLM2-135M (vocab 49,152), float32, greedy, the machine's threads:

- coverage: of the schema set (bench/schema_set.py: BFCL v4 parameter schemas, the shipped traffic's,
  hand-written ones), how many each engine compiles, and of the answers the model then gives under
  each engine's mask (all schemas in one `generate` batch, `--max-tokens` new tokens), how many parse
  and validate (`jsonschema`, formats checked). The peer is the same batch unconstrained (the schema
  asked for in the prompt, as the provider did before).
- overhead per token: each engine's answers replayed token by token, timing what a decode step adds
  per row (fill the row's mask, apply it to the logits, argmax, accept the token) against the
  unconstrained pick (argmax) on the same logits; constrained and unconstrained alternate in pairs,
  engines in rotating order. Set against the model's own decode step per row at 1 and 16 rows,
  measured in the same run: a row's matcher work is serial, so at 16 rows it weighs 16 times per step.

Run:  .venv/bin/python -m bench.constrained_decoding [--pairs 5] [--max-tokens 64]
      writes bench/results/constrained_decoding.json and .md (BFCL packs: `harness data pull` first).
      The two peers are not project dependencies: pip install llguidance==1.9.1 outlines-core==0.2.14
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import jsonschema
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, LogitsProcessor

from bench.grammar_engines import ENGINES, Engine, Matcher
from bench.result_files import write_results
from bench.schema_set import schema_set
from harness.config.profiles import load_profile
from harness.providers.hf.weights import resolve_weights

RESULTS = Path(__file__).parent / "results"
BATCH = 8
PROMPT = "Answer with one JSON object and nothing else. It must match this JSON schema:\n{schema}"


class _Masking(LogitsProcessor):
    """One matcher per row; a finished row may only end (EOS)."""

    def __init__(self, engine: Engine, matchers: list[Matcher | None], eos: int) -> None:
        self.engine, self.matchers, self.eos, self.started = engine, matchers, eos, False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        bitmask = self.engine.bitmask(len(self.matchers))
        bitmask.fill_(-1)
        for row, matcher in enumerate(self.matchers):
            if matcher is None:
                continue
            if self.started and not matcher.done():
                matcher.accept(int(input_ids[row, -1]))
            if matcher.done():
                bitmask[row].zero_()
                bitmask[row, self.eos // 32] = 1 << (self.eos % 32)
            else:
                matcher.fill(bitmask, row)
        self.started = True
        self.engine.apply(scores, bitmask)
        return scores


def _load() -> tuple[Any, Any]:
    folder = resolve_weights(load_profile("smollm2")).folder
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    return tokenizer, AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def _prompts(tokenizer: Any, schemas: dict[str, dict[str, Any]]) -> list[str]:
    return [str(tokenizer.apply_chat_template(
        [{"role": "system", "content": PROMPT.format(schema=json.dumps(schema))},
         {"role": "user", "content": "Give one example that fits, with plausible values."}],
        tokenize=False, add_generation_prompt=True)) for schema in schemas.values()]


@torch.inference_mode()
def _generate(model: Any, tokenizer: Any, prompts: list[str], max_tokens: int,
              matchers: list[Matcher | None], engine: Engine | None) -> list[list[int]]:
    """Greedy answers, in batches of similar prompt length (padding costs the whole batch)."""
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    eos, answers = tokenizer.eos_token_id, {}
    for start in range(0, len(order), BATCH):
        chunk = order[start : start + BATCH]
        batch = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        processor = _Masking(engine, [matchers[i] for i in chunk], eos) if engine else None
        out = model.generate(**batch, max_new_tokens=max_tokens, do_sample=False, temperature=None, top_p=None,
                             top_k=None, pad_token_id=tokenizer.pad_token_id or eos,
                             logits_processor=[processor] if processor else None)
        for i, row in zip(chunk, out[:, batch["input_ids"].shape[1]:].tolist(), strict=True):
            answers[i] = row[: row.index(eos) + 1] if eos in row else row
        print(f"  {engine.name if engine else 'unconstrained'}: {len(answers)}/{len(prompts)}", flush=True)
    return [answers[i] for i in range(len(prompts))]


def _verdict(text: str, schema: dict[str, Any], ended: bool) -> str:
    """'valid', 'invalid' (parses, fails the schema), 'unparsed' or 'truncated' (hit max tokens)."""
    try:
        value = json.loads(text)
    except ValueError:
        return "unparsed" if ended else "truncated"
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    return "valid" if validator.is_valid(value) else "invalid"


def _answers(tokenizer: Any, tokens: list[list[int]], schemas: dict[str, dict[str, Any]]) -> dict[str, str]:
    eos = tokenizer.eos_token_id
    return {name: _verdict(tokenizer.decode([t for t in row if t != eos], skip_special_tokens=True), schema,
                           eos in row) for (name, schema), row in zip(schemas.items(), tokens, strict=True)}


def _coverage(engine: Engine | None, model: Any, tokenizer: Any, schemas: dict[str, dict[str, Any]],
              max_tokens: int) -> dict[str, Any]:
    """Compile every schema, then answer them all in one batch under the engine's masks."""
    compiled: dict[str, Any] = {}
    refused: dict[str, str] = {}
    started = time.perf_counter()
    for name, schema in schemas.items():
        try:
            compiled[name] = engine.compile(schema) if engine else None
        except Exception as exc:
            refused[name] = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    compile_s = time.perf_counter() - started
    matchers = [engine.matcher(compiled[n]) if engine and n in compiled else None for n in schemas]
    started = time.perf_counter()
    tokens = _generate(model, tokenizer, _prompts(tokenizer, schemas), max_tokens, matchers, engine)
    verdicts = _answers(tokenizer, tokens, schemas)
    counts = {v: sum(1 for n, x in verdicts.items() if x == v and n not in refused)
              for v in ("valid", "invalid", "unparsed", "truncated")}
    return {"compiled": len(schemas) - len(refused), "refused": refused, "compile_s": compile_s,
            "generate_s": time.perf_counter() - started, **counts,
            "not_valid": {n: v for n, v in verdicts.items() if v != "valid" and n not in refused},
            "tokens": {n: row for n, row in zip(schemas, tokens, strict=True) if n in compiled}}


def _replay(engine: Engine, compiled: dict[str, Any], tokens: dict[str, list[int]], logits: torch.Tensor,
            constrained: bool) -> tuple[float, int]:
    """Seconds spent picking every recorded token (mask work included when constrained), token count."""
    bitmask = engine.bitmask(1)
    spent, count = 0.0, 0
    for name, row in tokens.items():
        matcher = engine.matcher(compiled[name]) if constrained else None
        started = time.perf_counter()
        for token in row:
            scores = logits.clone()
            if matcher is not None:
                matcher.fill(bitmask, 0)
                engine.apply(scores, bitmask)
            int(scores.argmax())
            if matcher is not None and not matcher.done():
                matcher.accept(token)
        spent += time.perf_counter() - started
        count += len(row)
    return spent, count


def _overhead(engines: list[Engine], results: dict[str, dict[str, Any]], schemas: dict[str, dict[str, Any]],
              pairs: int) -> dict[str, dict[str, Any]]:
    """Per-token pick time, constrained vs unconstrained, alternating pairs in rotating engine order."""
    logits = torch.randn(1, 49152)
    compiled = {e.name: {n: e.compile(schemas[n]) for n in results[e.name]["tokens"]} for e in engines}
    times: dict[str, dict[str, list[float]]] = {e.name: {"on": [], "off": []} for e in engines}
    for pair in range(pairs):
        for engine in engines[pair % len(engines):] + engines[: pair % len(engines)]:
            tokens = results[engine.name]["tokens"]
            for mode in ("off", "on") if pair % 2 else ("on", "off"):
                spent, count = _replay(engine, compiled[engine.name], tokens, logits, mode == "on")
                times[engine.name][mode].append(spent / count * 1e6)
    return {name: {"constrained_us": statistics.median(t["on"]), "unconstrained_us": statistics.median(t["off"]),
                   "added_us": statistics.median(a - b for a, b in zip(t["on"], t["off"], strict=True))}
            for name, t in times.items()}


@torch.inference_mode()
def _decode_step_ms(model: Any, tokenizer: Any, rows: int, steps: int = 24) -> float:
    """The model's own decode step (KV cache, one new token per row), median ms per row."""
    batch = tokenizer(["Tell me about the sea. " * 20] * rows, return_tensors="pt", add_special_tokens=False)
    cache = DynamicCache()
    out = model(**batch, past_key_values=cache, use_cache=True)
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        out = model(input_ids=token, past_key_values=cache, use_cache=True)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        times.append((time.perf_counter() - started) * 1000 / rows)
    return statistics.median(times)


def _markdown(report: dict[str, Any]) -> str:
    step1, step16 = report["decode_step_ms_per_row"]["1"], report["decode_step_ms_per_row"]["16"]
    lines = [
        "# Constrained decoding engines (bench/constrained_decoding.py)", "",
        f"{report['when']}; SmolLM2-135M float32 on {torch.get_num_threads()} threads; "
        f"{report['schemas']} schemas ({report['sources']}); greedy, {report['max_tokens']} new tokens at most; "
        f"{report['pairs']} alternating pairs for the overhead.", "",
        "Coverage: compiled by the engine; of the model's answers under its mask, how many parse and validate "
        "(`jsonschema`, formats checked). Peer: the same batch unconstrained (schema in the prompt only)"
        + ("" if "unconstrained (peer)" in report["coverage"] else ", not run this time (--no-peer)") + ".",
        f"Load average (1 min) at start and end: {report['load']}: timings are inflated by other work; the "
        "ratios hold within this run only.", "",
        "| engine | compiled | valid | invalid | unparsed | truncated | compile s (all) | refused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["coverage"].items():
        refused = "; ".join(f"{k}: {v}" for k, v in row["refused"].items()) or "-"
        lines.append(f"| {name} | {row['compiled']}/{report['schemas']} | {row['valid']} | {row['invalid']} | "
                     f"{row['unparsed']} | {row['truncated']} | {row['compile_s']:.2f} | {refused} |")
    lines += ["", "Overhead per generated token and row (µs): fill the row's mask + apply + argmax + accept, "
              "against argmax alone on the same logits (median of pairs). The model's own decode step in the "
              f"same run: {step1:.1f} ms per row at 1 row, {step16:.2f} ms per row at 16 rows.", "",
              "| engine | constrained µs | unconstrained µs | added µs | added / step at 1 row | "
              "added / step per row at 16 rows |", "|---|---|---|---|---|---|"]
    for name, row in report["overhead"].items():
        added = row["added_us"] / 1000
        lines.append(f"| {name} | {row['constrained_us']:.0f} | {row['unconstrained_us']:.0f} | "
                     f"{row['added_us']:.0f} | {added / step1:.1%} | {added / step16:.1%} |")
    lines += ["", "Answers that were not valid, per engine:", ""]
    for name, row in report["coverage"].items():
        lines.append(f"- {name}: " + (", ".join(f"{k} ({v})" for k, v in row["not_valid"].items()) or "none"))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    # The unconstrained peer rarely ends (the model rambles to max tokens): the slowest part of a run.
    parser.add_argument("--no-peer", action="store_true", help="skip the unconstrained peer batch")
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    tokenizer, model = _load()
    schemas = schema_set()
    eos = tokenizer.eos_token_id
    engines: list[Engine] = [cls(tokenizer, model.config.vocab_size, eos) for cls in ENGINES]
    coverage = {} if args.no_peer else {"unconstrained (peer)": _coverage(None, model, tokenizer, schemas,
                                                                          args.max_tokens)}
    for engine in engines:
        coverage[f"{engine.name} {engine.version}"] = _coverage(engine, model, tokenizer, schemas, args.max_tokens)
        print(engine.name, {k: v for k, v in coverage[f"{engine.name} {engine.version}"].items() if k != "tokens"})
    by_name = {e.name: coverage[f"{e.name} {e.version}"] for e in engines}
    overhead = _overhead(engines, by_name, schemas, args.pairs)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "load": [*load, os.getloadavg()[0]],
        "schemas": len(schemas), "max_tokens": args.max_tokens,
        "pairs": args.pairs, "sources": "15 hand-written, 2 from the shipped traffic, 30 BFCL v4",
        "decode_step_ms_per_row": {str(rows): _decode_step_ms(model, tokenizer, rows) for rows in (1, 16)},
        "coverage": {k: {x: y for x, y in v.items() if x != "tokens"} for k, v in coverage.items()},
        "overhead": {f"{e.name} {e.version}": overhead[e.name] for e in engines},
    }
    text = _markdown(report)
    write_results("constrained_decoding", report, text)
    print(text)


if __name__ == "__main__":
    main()
