"""`harness judge`: any profile judges, through the same provider contract, response cache and retry
layer as an eval. Pairwise: every answered doc pair of the two sides' latest runs, asked in both
orders. Rubric: one side's answers graded against a rubric file. A judge that is the baseline or the
candidate, or of the same model family, is refused unless allowed: models measurably prefer their
own family's answers (self-preference bias; Zheng et al. 2023, Panickssery et al. 2024).

Errors are not verdicts: if more judge calls fail than the error budget allows, nothing is stored
and one line names the commonest error (what did answer stays in the cache for the retry). Nor are a
side's errors answers: a side whose run errored above the same budget is refused before the judge is
called, as `harness compare` refuses it (harness.store.error_budget).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE, check_max_error_rate, percent
from harness.config.overrides import Overrides, apply_overrides
from harness.config.paths import default_db
from harness.config.profiles import Profile, load_profile
from harness.digest import sha256_hex
from harness.errors import HarnessError
from harness.judge.prompts import (
    PAIRWISE,
    RUBRIC,
    Prompt,
    family,
    grade_label,
    load_prompt,
    pairwise_verdict,
    render_pairwise,
    render_rubric,
    rubric_grade,
)
from harness.providers.base import GenRequest, GenResult, Message
from harness.providers.registry import close_provider, create_provider
from harness.run.reuse import CachePolicy, Identity, ReusingProvider
from harness.store import Store
from harness.store.error_budget import refuse_errored_sides
from harness.store.judgements import answers_to_grade, pairs_to_judge, record_judgements, who_answered
from harness.store.writes import GenerationWriter

JUDGE_MAX_TOKENS = 256
# The judge's verdict in each order, read from the candidate's side.
_ORDER_1 = {"A": "loss", "B": "win", "tie": "tie"}  # baseline shown as A
_ORDER_2 = {"A": "win", "B": "loss", "tie": "tie"}  # candidate shown as A
_SCORE = {"win": 1.0, "tie": 0.0, "loss": -1.0}


@dataclass
class JudgeOptions:
    judge: str  # the judging profile
    candidate: str  # provider name or run id
    baseline: str | None = None  # pairwise only
    suite: str | None = None
    rubric: Path | None = None  # rubric mode: a text file saying what a good answer is
    scale: str = "pass-fail"  # or "1-5"
    limit: int | None = None  # at most N docs per task
    allow_self_judge: bool = False
    cache: bool = True
    db: Path | None = None
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE


@dataclass
class JudgeOutcome:
    judged: int
    provider_calls: int
    cache_hits: int
    cost_usd: float | None
    counts: dict[str, int]  # outcome (win/tie/loss, or a grade) -> docs
    consistency: float | None = None  # pairwise: share of docs whose two orders agreed


def judge_profile(name: str) -> Profile:
    """The judge's profile as an eval would use it (an openai profile's base_url_env and model_env applied)."""
    return apply_overrides(load_profile(name), Overrides())


def readable(prompt: str) -> str:
    """A stored request as the judge reads it: chat turns as 'role: text' lines."""
    try:
        turns = json.loads(prompt)
    except ValueError:
        return prompt
    if not isinstance(turns, list):
        return prompt
    lines = []
    for turn in turns:
        text = turn.get("content") or ""
        calls = "; ".join(f"{c['function']['name']}({c['function']['arguments']})"
                          for c in turn.get("tool_calls") or [])
        lines.append(f"{turn.get('role')}: {text}" + (f" [calls {calls}]" if calls else ""))
    return "\n".join(lines)


def answer_text(text: str | None, calls: str | None) -> str:
    """An answer with its function calls, as the judge sees it."""
    listed = "; ".join(f"{c['name']}({c['arguments']})" for c in json.loads(calls)) if calls else ""
    return (text or "") + (f"\n[function calls: {listed}]" if listed else "")


def _refuse_self_judging(judge: Profile, answered: Sequence[tuple[str, str]], allowed: bool) -> None:
    if allowed:
        return
    for provider, model in answered:
        if provider == judge.name:
            raise HarnessError(f"judge '{judge.name}' is one of the sides it would judge; self-preference is "
                               "measured in the literature (Zheng et al. 2023); pick another judge or pass "
                               "--allow-self-judge")
        if family(model) == family(judge.model):
            raise HarnessError(f"judge '{judge.name}' ({judge.model}) is of the same model family "
                               f"('{family(model)}') as '{provider}' ({model}): models prefer their own family's "
                               "answers (self-preference bias); pick another judge or pass --allow-self-judge")


def ask_judge(judge: Profile, store: Store, texts: list[str], cache: bool) -> tuple[dict[str, GenResult], Any]:
    """Every distinct prompt answered once (cache first); results by request key, and the reuse counts."""
    requests = {t: GenRequest(messages=(Message("user", t),), max_tokens=min(JUDGE_MAX_TOKENS,
                                                                            judge.generation.max_tokens))
                for t in texts}
    provider = create_provider(judge)
    writer = GenerationWriter(store)
    session = "judge-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    identity = Identity(judge.name, judge.content_hash(), provider.info.revision, session)
    reusing = ReusingProvider(provider, store, writer, identity, CachePolicy(cache))
    try:
        results = {r.key: r for r in reusing.generate(list({r.key(): r for r in requests.values()}.values()))}
    finally:
        writer.flush()
        close_provider(provider)
    return {t: results[r.key()] for t, r in requests.items()}, reusing.counts


def check_judge_errors(results: Sequence[GenResult], max_error_rate: float, judge: str) -> None:
    errors = [r.error for r in results if r.error]
    if results and len(errors) / len(results) > max_error_rate:
        common, n = Counter(errors).most_common(1)[0]
        raise HarnessError(f"judge '{judge}': {len(errors)} of {len(results)} calls failed "
                           f"({percent(len(errors) / len(results))}, over --max-error-rate "
                           f"{percent(max_error_rate)}; commonest: {common} ({n})); nothing stored, run it again")


def _cost(judge: Profile, results: Sequence[GenResult]) -> float | None:
    pricing = judge.pricing
    if pricing.input_usd_per_mtok is None or pricing.output_usd_per_mtok is None:
        return None
    fresh = [r for r in results if r.reused is None]
    return sum((r.input_tokens or 0) * pricing.input_usd_per_mtok + (r.output_tokens or 0)
               * pricing.output_usd_per_mtok for r in fresh) / 1e6


def _common(judge: Profile, prompt: Prompt, results: Sequence[GenResult], when: datetime) -> dict[str, Any]:
    first = results[0]
    errors = "; ".join(r.error for r in results if r.error) or None
    return {
        "judge": judge.name, "judge_profile_hash": judge.content_hash(), "judge_model_reported": first.model_reported,
        "judge_fingerprint": first.fingerprint, "prompt_name": prompt.name, "prompt_hash": prompt.digest,
        "error": errors, "input_tokens": sum(r.input_tokens or 0 for r in results),
        "output_tokens": sum(r.output_tokens or 0 for r in results), "cost_usd": _cost(judge, results),
        "cached": all(r.reused is not None for r in results), "judged_at": when,
    }


def combine(first: str | None, second: str | None) -> tuple[str, bool]:
    """The candidate's outcome from its two orders: a win or a loss only when both agree."""
    one, two = _ORDER_1.get(first or "", "unreadable"), _ORDER_2.get(second or "", "unreadable")
    consistent = one == two and one != "unreadable"
    return (one if consistent and one in ("win", "loss") else "tie"), consistent


def _refuse_errored(store: Store, baseline: str, candidate: str, options: JudgeOptions,
                    names: tuple[str, str] = ("baseline", "candidate")) -> None:
    """The sides' runs within the error budget, checked before any judge call (nothing stored otherwise)."""
    check_max_error_rate(options.max_error_rate)
    with store.connect(read_only=True) as con:
        refuse_errored_sides(con, baseline, candidate, options.suite, options.max_error_rate, names)


def judge_pairwise(options: JudgeOptions) -> JudgeOutcome:
    """Judge the candidate against the baseline on every answered doc pair; store each judgement.
    Raises NotComparable, before any judge call, when a side's run errored above the budget."""
    judge, store = judge_profile(options.judge), Store(options.db or default_db())
    assert options.baseline is not None
    _refuse_errored(store, options.baseline, options.candidate, options)
    pairs = pairs_to_judge(store, options.baseline, options.candidate, options.suite, options.limit)
    if not pairs:
        raise HarnessError(f"no answered doc pairs of '{options.baseline}' and '{options.candidate}'"
                           + (f" in suite '{options.suite}'" if options.suite else "") + " to judge")
    runs = {p["baseline_run"] for p in pairs} | {p["candidate_run"] for p in pairs}
    _refuse_self_judging(judge, who_answered(store, sorted(runs)), options.allow_self_judge)
    prompt = load_prompt(PAIRWISE)
    texts = []
    for p in pairs:
        request = readable(p["prompt"])
        base, cand = answer_text(p["baseline_answer"], p["baseline_calls"]), answer_text(
            p["candidate_answer"], p["candidate_calls"])
        p["texts"] = (render_pairwise(prompt, request, base, cand), render_pairwise(prompt, request, cand, base))
        texts += p["texts"]
    answers, counts = ask_judge(judge, store, texts, options.cache)
    check_judge_errors(list(answers.values()), options.max_error_rate, judge.name)
    when, rows = datetime.now(UTC).replace(tzinfo=None), []
    for p in pairs:
        first, second = answers[p["texts"][0]], answers[p["texts"][1]]
        v1, v2 = pairwise_verdict(first.text), pairwise_verdict(second.text)
        outcome, consistent = combine(v1, v2)
        key = f"pairwise|{judge.content_hash()}|{prompt.digest}|{p['baseline_run']}|{p['candidate_run']}|" \
              f"{p['task']}|{p['doc_id']}"
        rows.append({
            **_common(judge, prompt, [first, second], when), "judgement_id": sha256_hex(key, 24), "mode": "pairwise",
            "suite": p["suite"], "task": p["task"], "doc_id": p["doc_id"], "baseline_run": p["baseline_run"],
            "candidate_run": p["candidate_run"], "run_id": None, "rubric_hash": None,
            "reply_1": first.text, "reply_2": second.text, "verdict_1": _ORDER_1.get(v1 or "", "unreadable"),
            "verdict_2": _ORDER_2.get(v2 or "", "unreadable"), "outcome": outcome, "score": _SCORE[outcome],
            "consistent": consistent,
        })
    record_judgements(store, rows)
    judged = [r for r in rows if r["error"] is None]
    return JudgeOutcome(len(judged), counts.provider_calls, counts.cache_hits, _total_cost(rows),
                        dict(Counter(r["outcome"] for r in judged)),
                        sum(r["consistent"] for r in judged) / len(judged) if judged else None)


def _total_cost(rows: Sequence[dict[str, Any]]) -> float | None:
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return sum(costs) if costs else None


def judge_rubric(options: JudgeOptions) -> JudgeOutcome:
    """Grade one side's answers against a rubric; store each grade (score in [0, 1])."""
    judge, store = judge_profile(options.judge), Store(options.db or default_db())
    if options.rubric is None or not options.rubric.is_file():
        raise HarnessError(f"rubric file {options.rubric} does not exist")
    rubric = options.rubric.read_text(encoding="utf-8").strip()
    if options.scale not in ("pass-fail", "1-5"):
        raise HarnessError(f"unknown --scale '{options.scale}'; use pass-fail or 1-5")
    _refuse_errored(store, options.candidate, options.candidate, options, ("graded side", "graded side"))
    answers = answers_to_grade(store, options.candidate, options.suite, options.limit)
    if not answers:
        raise HarnessError(f"no answered docs of '{options.candidate}' to grade")
    _refuse_self_judging(judge, who_answered(store, sorted({a["run_id"] for a in answers})), options.allow_self_judge)
    prompt = load_prompt(RUBRIC)
    for a in answers:
        a["text"] = render_rubric(prompt, readable(a["prompt"]), answer_text(a["answer"], a["tool_calls"]), rubric,
                                  options.scale)
    replies, counts = ask_judge(judge, store, [a["text"] for a in answers], options.cache)
    check_judge_errors(list(replies.values()), options.max_error_rate, judge.name)
    when, rows, rubric_hash = datetime.now(UTC).replace(tzinfo=None), [], sha256_hex(f"{options.scale}|{rubric}", 16)
    for a in answers:
        reply = replies[a["text"]]
        grade = rubric_grade(reply.text, options.scale)
        key = f"rubric|{judge.content_hash()}|{prompt.digest}|{rubric_hash}|{a['run_id']}|{a['task']}|{a['doc_id']}"
        rows.append({
            **_common(judge, prompt, [reply], when), "judgement_id": sha256_hex(key, 24), "mode": "rubric",
            "suite": a["suite"], "task": a["task"], "doc_id": a["doc_id"], "baseline_run": None,
            "candidate_run": None, "run_id": a["run_id"], "rubric_hash": rubric_hash, "reply_1": reply.text,
            "reply_2": None, "verdict_1": grade_label(grade, options.scale), "verdict_2": None,
            "outcome": None if grade is None else grade_label(grade, options.scale), "score": grade,
            "consistent": None,
        })
    record_judgements(store, rows)
    judged = [r for r in rows if r["error"] is None]
    return JudgeOutcome(len(judged), counts.provider_calls, counts.cache_hits, _total_cost(rows),
                        dict(Counter(r["outcome"] or "unreadable" for r in judged)))
