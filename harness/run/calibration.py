"""`harness judge calibrate`: how far a judge can be trusted, measured on a team's own labelled sample.

Labels are JSON Lines. Pairwise: `{"request", "answer_a", "answer_b", "label": "A" | "B" | "tie"}`,
judged in both orders like any pair (a side wins only when both orders agree). Rubric:
`{"request", "answer", "label": "pass" | "fail" | 1-5}` with `--rubric FILE` (or a per-line "rubric").
Every line is checked before the judge is asked anything; the result (agreement, Cohen's kappa,
confusion table) is stored in `judge_calibrations` and shown by the report beside the judge's verdicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config.paths import default_db
from harness.digest import file_sha256, sha256_hex
from harness.errors import HarnessError
from harness.judge.agreement import Agreement, agreement
from harness.judge.prompts import (
    PAIRWISE,
    RUBRIC,
    grade_label,
    load_prompt,
    pairwise_verdict,
    render_pairwise,
    render_rubric,
    rubric_grade,
)
from harness.run.judging import ask_judge, check_judge_errors, judge_profile
from harness.store import Store
from harness.store.judgements import record_calibration
from harness.textfile import text_lines

_PAIRWISE_LABELS = ("A", "B", "tie")


@dataclass
class CalibrationOptions:
    judge: str
    labels: Path
    mode: str = "pairwise"  # or "rubric"
    rubric: Path | None = None
    scale: str = "pass-fail"
    db: Path | None = None
    cache: bool = True


def _line_problem(row: Any, mode: str, scale: str, has_rubric: bool) -> str | None:
    if not isinstance(row, dict):
        return "is not a JSON object"
    fields = ("request", "answer_a", "answer_b") if mode == "pairwise" else ("request", "answer")
    for name in fields:
        if not isinstance(row.get(name), str):
            return f"needs '{name}' as text"
    label = row.get("label")
    if mode == "pairwise" and label not in _PAIRWISE_LABELS:
        return f"label {label!r} is not A, B or tie"
    if mode == "rubric":
        allowed = ("pass", "fail") if scale == "pass-fail" else (1, 2, 3, 4, 5)
        if label not in allowed:
            return f"label {label!r} is not one of {', '.join(map(str, allowed))}"
        if not has_rubric and not isinstance(row.get("rubric"), str):
            return "needs a 'rubric' (or give --rubric FILE)"
    return None


def read_labels(path: Path, mode: str, scale: str, has_rubric: bool) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text_lines(path, 1024 * 1024), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        problem = _line_problem(row, mode, scale, has_rubric)
        if problem:
            raise HarnessError(f"{path}: line {number} {problem}")
        rows.append(row)
    if not rows:
        raise HarnessError(f"{path} holds no labelled examples")
    return rows


def _pairwise_verdicts(texts: list[tuple[str, str]], answers: dict[str, Any]) -> list[str]:
    found = []
    for first, second in texts:
        one = pairwise_verdict(answers[first].text)
        two = {"A": "B", "B": "A", "tie": "tie"}.get(pairwise_verdict(answers[second].text) or "")
        found.append(one if one == two and one is not None else ("tie" if one and two else "unreadable"))
    return found


def calibrate(options: CalibrationOptions) -> tuple[Agreement, int]:
    """Judge the labelled examples, store the agreement; returns it and the unreadable count."""
    if options.mode not in ("pairwise", "rubric"):
        raise HarnessError(f"unknown --mode '{options.mode}'; use pairwise or rubric")
    judge = judge_profile(options.judge)
    rubric = options.rubric.read_text(encoding="utf-8").strip() if options.rubric else None
    rows = read_labels(options.labels, options.mode, options.scale, rubric is not None)
    store = Store(options.db or default_db())
    prompt = load_prompt(PAIRWISE if options.mode == "pairwise" else RUBRIC)
    if options.mode == "pairwise":
        pairs = [(render_pairwise(prompt, r["request"], r["answer_a"], r["answer_b"]),
                  render_pairwise(prompt, r["request"], r["answer_b"], r["answer_a"])) for r in rows]
        answers, _ = ask_judge(judge, store, [t for pair in pairs for t in pair], options.cache)
        check_judge_errors(list(answers.values()), 0.0, judge.name)
        verdicts, labels = _pairwise_verdicts(pairs, answers), [r["label"] for r in rows]
    else:
        texts = [render_rubric(prompt, r["request"], r["answer"], rubric or r["rubric"], options.scale) for r in rows]
        answers, _ = ask_judge(judge, store, texts, options.cache)
        check_judge_errors(list(answers.values()), 0.0, judge.name)
        grades = [rubric_grade(answers[t].text, options.scale) for t in texts]
        verdicts = [grade_label(g, options.scale) for g in grades]
        labels = [str(r["label"]) for r in rows]
    result = agreement(labels, verdicts)
    unreadable = verdicts.count("unreadable")
    when = datetime.now(UTC).replace(tzinfo=None)
    record_calibration(store, {
        "calibration_id": sha256_hex(f"{judge.content_hash()}|{prompt.digest}|{options.labels}|{when}", 24),
        "judge": judge.name, "judge_profile_hash": judge.content_hash(), "mode": options.mode,
        "prompt_hash": prompt.digest, "labels_file": options.labels.name, "labels_sha256": file_sha256(options.labels),
        "n": result.n, "unreadable": unreadable, "agreement": result.agreement, "kappa": result.kappa,
        "confusion": json.dumps(result.confusion), "calibrated_at": when,
    })
    return result, unreadable

