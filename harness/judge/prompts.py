"""Judge prompts are versioned files (`harness/judge/prompts/<name>.txt`); every judgement stores the
prompt's name and sha256, so a changed prompt never mixes with the old one's verdicts.

Pairwise (MT-Bench style): the judge sees the request and two answers as A and B and ends with
`[[A]]`, `[[B]]` or `[[C]]` (tie). Each pair is asked in both orders; a win counts only when both
orders agree (position bias is measured: judges prefer the first answer surprisingly often).
Rubric: the judge grades one answer against a rubric, `Grade: PASS|FAIL` or `Grade: 1..5`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.digest import sha256_hex

_FOLDER = Path(__file__).parent / "prompts"
PAIRWISE, RUBRIC = "pairwise_v1", "rubric_v1"
_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_GRADE = re.compile(r"(?im)^\W*grade\W*:?\W*(pass|fail|[1-5])\b")


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def digest(self) -> str:
        return sha256_hex(self.text, 16)


def load_prompt(name: str) -> Prompt:
    return Prompt(name, (_FOLDER / f"{name}.txt").read_text(encoding="utf-8"))


def render_pairwise(prompt: Prompt, request: str, answer_a: str, answer_b: str) -> str:
    # str.replace, not str.format: requests and answers hold braces of their own.
    return (prompt.text.replace("{request}", request).replace("{answer_a}", answer_a)
            .replace("{answer_b}", answer_b))


def render_rubric(prompt: Prompt, request: str, answer: str, rubric: str, scale: str) -> str:
    grade = '"Grade: PASS" or "Grade: FAIL"' if scale == "pass-fail" else '"Grade: N" with N from 1 (worst) to 5 (best)'
    return (prompt.text.replace("{grade_format}", grade).replace("{rubric}", rubric).replace("{request}", request)
            .replace("{answer}", answer))


def pairwise_verdict(reply: str) -> str | None:
    """'A', 'B' or 'tie' from the judge's last [[X]]; None when the reply holds none."""
    found = _VERDICT.findall(reply or "")
    if not found:
        return None
    return {"A": "A", "B": "B", "C": "tie"}[found[-1]]


def rubric_grade(reply: str, scale: str) -> float | None:
    """The grade as a score in [0, 1] (PASS 1, FAIL 0; N -> (N-1)/4); None when unreadable."""
    found = _GRADE.findall(reply or "")
    if not found:
        return None
    value = found[-1].lower()
    if scale == "pass-fail":
        return {"pass": 1.0, "fail": 0.0}.get(value)
    return (int(value) - 1) / 4 if value.isdigit() else None


def grade_label(grade: float | None, scale: str) -> str:
    """A grade as a person reads it: pass / fail, or 1 to 5; 'unreadable' when there was none."""
    if grade is None:
        return "unreadable"
    if scale == "pass-fail":
        return "pass" if grade == 1.0 else "fail"
    return str(round(grade * 4) + 1)


def family(model: str) -> str:
    """A model's family from its id: the first run of letters of its name, lowercased
    ('HuggingFaceTB/SmolLM2-135M-Instruct' and 'smollm2' -> 'smollm'; 'gpt-4o-mini' -> 'gpt')."""
    name = model.rsplit("/", 1)[-1].lower()
    match = re.match(r"[a-z]+", name)
    return match.group() if match else name
