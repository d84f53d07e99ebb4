"""The sample browser at scale: a 10,000-pair page written by the real writer, opened in headless Chromium.

Synthetic pairs (seeded): 8 tasks, a shared system prompt, a question of ~25 words, a third of the
requests offering two tools, answers of 20-120 words drawn from a 2,000-word vocabulary (the candidate's
a reworded copy of the incumbent's, so each pair has a real word diff), 3 metrics a side. Each page is
written by harness.report.browser.render_browser, as `harness report` and `harness browse` write it.

Measured, per page, in alternating pairs (the order swaps every round): file size; time from navigation
to the list drawn (`pairs-ready`, a mark the page sets) and to the frame after it (`pairs-painted`);
the time to apply a filter (the page's `pairs-filter` measure: filter 10,000 pairs, recount every
option, redraw the list and the detail) for an outcome, a failure class, and a text search.
Peer: the same page with its data as plain JSON (what the writer does below 256 KiB), so the ratio says
what compression costs or saves in opening time and size.

Run:  .venv/bin/python -m bench.browser_scale [--pairs 10000] [--rounds 5]
      writes bench/results/browser_scale.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from bench.chromium import chrome
from bench.result_files import write_results
from harness.analysis.pairs import OUTCOMES, Browse, Pair
from harness.report.browser import render_browser

TASKS = [f"support_{name}" for name in ("billing", "returns", "shipping", "login", "tools", "json", "tone", "misc")]
CLASSES = ("wrong", "wrong_tool", "schema_violation", "truncated", "refusal", "empty", "no_answer")
SYSTEM = ("You are the support assistant of an online shop. Answer briefly and politely, cite the order number "
          "when the customer gives one, never promise refunds the policy does not allow, and call a tool when "
          "the answer depends on live data (order status, stock, delivery dates). ") * 2
TOOLS = [{"type": "function", "function": {"name": name, "description": f"Look up {name.split('_')[1]}.",
                                           "parameters": {"type": "object", "properties": {
                                               "order_id": {"type": "string"}, "detail": {"type": "boolean"}},
                                               "required": ["order_id"]}}}
         for name in ("get_order", "get_stock")]


def _words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    return [rng.choice(vocab) for _ in range(n)]


def _side(answer: list[str], calls: str | None, score: float, rng: random.Random) -> dict[str, Any]:
    return {"response": " ".join(answer), "tool_calls": calls, "finish_reason": "stop",
            "input_tokens": rng.randint(80, 400), "output_tokens": len(answer), "latency_ms": rng.uniform(200, 3000),
            "error": None, "scores": [("exact", score), ("rougeL", rng.random()), ("length_ok", 1.0)],
            "source": "live"}


def synthetic(n: int, seed: int = 7) -> Browse:
    """`n` pairs of one baseline and one candidate, reproducible from `seed`."""
    rng = random.Random(seed)
    vocab = [f"{rng.choice('bcdfghklmnprstvw')}{rng.choice('aeiou')}{rng.choice('lmnrst')}{i % 97}"
             for i in range(2000)]
    pairs = []
    for i in range(n):
        outcome = rng.choices(OUTCOMES, weights=(20, 10, 50, 15, 5))[0]
        answer = _words(rng, vocab, rng.randint(20, 120))
        other = [w if rng.random() > 0.3 else rng.choice(vocab) for w in answer]
        tools = i % 3 == 0
        calls = json.dumps([{"name": "get_order", "arguments": json.dumps({"order_id": f"A{i}"}), "id": "c1"}])
        b_score, c_score = {"lost": (1.0, 0.0), "won": (0.0, 1.0), "tied": (1.0, 1.0)}.get(outcome, (0.0, 0.0))
        pairs.append(Pair(
            candidate="candidate", task=TASKS[i % len(TASKS)], doc_id=i // len(TASKS), outcome=outcome,
            baseline_class="correct" if b_score else rng.choice(CLASSES),
            candidate_class="correct" if c_score else ("error" if outcome == "errored" else rng.choice(CLASSES)),
            unsupported=None, messages=[{"role": "system", "content": SYSTEM},
                                        {"role": "user", "content": " ".join(_words(rng, vocab, 25)) + "?"}],
            request_fields={"tools": TOOLS, "tool_choice": "auto"} if tools else {}, target=" ".join(answer[:8]),
            baseline=_side(answer, calls if tools else None, b_score, rng),
            answer=_side(other, None, c_score, rng)))
    return Browse(baseline="incumbent", suite="synthetic", candidates=["candidate"], pairs=pairs)


def _mark(driver: Any, name: str) -> float:
    entries = driver.execute_script(f"return performance.getEntriesByName('{name}').map(e => e.startTime)")
    return float(entries[-1])


def _filter_ms(driver: Any) -> float:
    return float(driver.execute_script(
        "const m = performance.getEntriesByName('pairs-filter'); return m[m.length - 1].duration"))


def _measure(driver: Any, page: Path) -> dict[str, float]:
    driver.get(page.as_uri())
    body = (By.TAG_NAME, "body")
    WebDriverWait(driver, 120).until(lambda d: d.find_element(*body).get_attribute("data-state") == "ready")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return performance.getEntriesByName('pairs-painted').length") > 0)
    found = {"ready_ms": _mark(driver, "pairs-ready"), "painted_ms": _mark(driver, "pairs-painted")}
    Select(driver.find_element(By.ID, "f-outcome")).select_by_value("lost")
    found["filter_outcome_ms"] = _filter_ms(driver)
    Select(driver.find_element(By.ID, "f-class")).select_by_value("wrong")
    found["filter_class_ms"] = _filter_ms(driver)
    count = len(driver.execute_script("return performance.getEntriesByName('pairs-filter')"))
    driver.find_element(By.ID, "f-search").send_keys("ka1")
    WebDriverWait(driver, 30).until(lambda d: len(d.execute_script(
        "return performance.getEntriesByName('pairs-filter')")) > count)
    found["filter_search_ms"] = _filter_ms(driver)
    return found


def run(n: int, rounds: int) -> dict[str, Any]:
    data = synthetic(n)
    folder = Path(tempfile.mkdtemp(prefix="browser-scale-"))
    pages: dict[str, Path] = {}
    write_s = {}
    for name, compress in (("compressed", True), ("plain JSON (peer)", False)):
        started = time.perf_counter()
        pages[name] = folder / f"{'gz' if compress else 'json'}.html"
        pages[name].write_text(render_browser(data, compress=compress), encoding="utf-8")
        write_s[name] = time.perf_counter() - started
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in pages}
    driver = chrome()
    try:
        for round_no in range(rounds):
            order = list(pages) if round_no % 2 == 0 else list(reversed(pages))
            for name in order:
                samples[name].append(_measure(driver, pages[name]))
    finally:
        driver.quit()
    summary = {name: {"bytes": pages[name].stat().st_size, "write_s": round(write_s[name], 2),
                      **{k: round(statistics.median(s[k] for s in samples[name]), 1) for k in samples[name][0]}}
               for name in pages}
    for page in pages.values():
        page.unlink()
    os.rmdir(folder)
    return {"pairs": n, "rounds": rounds, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_1min": os.getloadavg()[0], "pages": summary, "samples": samples}


def markdown(report: dict[str, Any]) -> str:
    pages = report["pages"]
    gz, plain = pages["compressed"], pages["plain JSON (peer)"]
    lines = ["# Sample browser at scale (bench/browser_scale.py)\n",
             f"{report['when']}; {report['pairs']:,} synthetic pairs; headless Chromium; median of "
             f"{report['rounds']} alternating rounds; load average at the end {report['load_1min']:.1f} on 2 cores.\n",
             "| page | size | write s | list drawn ms | painted ms | filter: outcome ms | filter: class ms "
             "| filter: search ms |", "|---|---|---|---|---|---|---|---|"]
    for name, page in pages.items():
        lines.append(f"| {name} | {page['bytes'] / 1e6:.1f} MB | {page['write_s']} | {page['ready_ms']:.0f} | "
                     f"{page['painted_ms']:.0f} | {page['filter_outcome_ms']:.0f} | {page['filter_class_ms']:.0f} | "
                     f"{page['filter_search_ms']:.0f} |")
    lines.append(f"\nCompressed against the plain-JSON peer: size x{gz['bytes'] / plain['bytes']:.2f}, "
                 f"time to the painted list x{gz['painted_ms'] / plain['painted_ms']:.2f}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report = run(args.pairs, args.rounds)
    write_results("browser_scale", report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
