"""Scores for replayed traffic when there is no gold answer, only what the incumbent returned (or a
team's reference where it has one). Each is an lm-eval metric, so intervals, verdicts and the report
treat them like any benchmark score. One function per kind of request; the first metric is primary.

- tools (the request offers functions): `tool_match` 1 when the calls equal the expected calls
  (harness.traffic.toolmatch: names, arguments after JSON normalisation, parallel calls as a set);
  `tool_names`, `tool_f1`, `spurious_call` (called when no call was expected), `missed_call`, and
  `tool_valid` (every call names an offered function with arguments its schema accepts).
- json (a `json_object` or `json_schema` response format): `json_match` = schema-valid x field
  agreement; `json_valid` (the text is JSON as a client's json.loads reads it, no fences), `schema_valid`
  (`jsonschema`; an object for json_object), `field_agreement` (share of the expected object's leaf
  values found equal at the same path).
- text: `similarity`, ROUGE-L F1 on word tokens: a proxy for "as good as the incumbent's answer", not
  a judgement of it; `exact`, normalised exact match.
- bfcl (a benchmark item with possible answers): `ast_match`, BFCL's AST verdict.

An errored answer (an outage, or `unsupported: <feature>`) scores 0 on every higher-is-better metric.
A doc without an expected answer (no logged response, no reference) is scored on validity alone:
its match metrics take the value of `tool_valid` or `schema_valid`, and text scores 1 for a
non-empty answer. The import says how many such docs there are.

A doc whose expected answer is the incumbent's refusal (`message.refusal`) is scored on declining:
every match metric of its kind is 1 when the answer declines too (no tool calls, and the text is the
logged refusal or matches the documented refusal patterns, harness.config.refusals) and 0 when it
answers; `spurious_call` is 1 for any call, and the validity metrics score the answer as usual.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.config.refusals import is_refusal
from harness.traffic.conformance import answer_schema, fits_schema, parse_json, valid_call
from harness.traffic.toolmatch import Call, compare_calls, fits_possible_answers, parse_calls, values_equal

METRICS = {
    "tools": ("tool_match", "tool_names", "tool_f1", "spurious_call", "missed_call", "tool_valid"),
    "json": ("json_match", "json_valid", "schema_valid", "field_agreement"),
    "text": ("similarity", "exact"),
    "bfcl": ("ast_match",),
}
LOWER_IS_BETTER = {"spurious_call", "missed_call"}
# Metrics that measure agreement with the expected answer, which on imported traffic is the incumbent's
# own logged answer: the log scores 1 against itself, so only a replay of the incumbent is a fair baseline.
AGAINST_LOG = {"tool_match", "tool_names", "tool_f1", "spurious_call", "missed_call", "json_match",
               "field_agreement", "similarity", "exact"}


def answer_calls(answer: Any) -> list[Call]:
    """The tool calls an answer carries (the harness hands scorers a str with a `tool_calls` tuple)."""
    return parse_calls([{"name": c.name, "arguments": c.arguments} for c in getattr(answer, "tool_calls", ())])


def score_doc(doc: dict[str, Any], answer: Any) -> dict[str, float]:
    """Every metric of the doc's kind for one answer. An answer that is an error (an outage, or a
    feature the provider lacks) scores 0 on every higher-is-better metric, whatever it happens to match."""
    scores = _score(doc, answer)
    if getattr(answer, "error", None):
        scores = {m: value if m in LOWER_IS_BETTER else 0.0 for m, value in scores.items()}
    return scores


def _score(doc: dict[str, Any], answer: Any) -> dict[str, float]:
    request = json.loads(doc["request"])
    expected = json.loads(doc["expected"]) if doc.get("expected") else None
    kind = doc["kind"]
    if expected is not None and expected.get("refusal"):
        return _declined(kind, request, expected, answer)
    if kind == "tools":
        return _tools(request, expected, answer_calls(answer))
    if kind == "json":
        return _json(request, expected, str(answer))
    if kind == "bfcl":
        fits = fits_possible_answers(answer_calls(answer), json.loads(doc["possible"]), request.get("tools") or [])
        return {"ast_match": float(fits)}
    return _text(expected, str(answer))


def _tools(request: dict[str, Any], expected: dict[str, Any] | None, got: list[Call]) -> dict[str, float]:
    tools = request.get("tools") or []
    valid = float(all(valid_call(call, tools) for call in got))
    if expected is None:
        return {"tool_match": valid, "tool_names": valid, "tool_f1": valid, "spurious_call": 0.0,
                "missed_call": 0.0, "tool_valid": valid}
    seen = compare_calls(parse_calls(expected.get("tool_calls")), got, tools)
    return {"tool_match": float(seen.match), "tool_names": float(seen.names), "tool_f1": seen.f1,
            "spurious_call": float(seen.spurious), "missed_call": float(seen.missed), "tool_valid": valid}


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()}
    if isinstance(value, list) and value:
        return {k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}/{i}").items()}
    return {path: value}


def _json(request: dict[str, Any], expected: dict[str, Any] | None, text: str) -> dict[str, float]:
    valid, value = parse_json(text)
    schema_valid = valid and fits_schema(value, answer_schema(request))
    wanted_ok, wanted = parse_json(expected.get("content")) if expected is not None else (False, None)
    if wanted_ok:
        want, have = _leaves(wanted), _leaves(value) if valid else {}
        agreement = sum(path in have and values_equal(want[path], have[path]) for path in want) / len(want)
    else:
        agreement = float(schema_valid)
    return {"json_match": float(schema_valid) * agreement, "json_valid": float(valid),
            "schema_valid": float(schema_valid), "field_agreement": agreement}


class _Words:
    """Word tokens in any script (rouge-score's default keeps only a-z and digits)."""

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())


_SCORER: Any = None


def _rouge_l(reference: str, answer: str) -> float:
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Words())
    if not _Words().tokenize(reference) and not _Words().tokenize(answer):
        return 1.0 if _normal(reference) == _normal(answer) else 0.0
    return float(_SCORER.score(reference, answer)["rougeL"].fmeasure)


def _normal(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".!?。")


def _text(expected: dict[str, Any] | None, answer: str) -> dict[str, float]:
    if expected is None:
        given = float(bool(answer.strip()))
        return {"similarity": given, "exact": given}
    reference = expected.get("content") or ""
    return {"similarity": _rouge_l(reference, answer), "exact": float(_normal(reference) == _normal(answer))}


def _declined(kind: str, request: dict[str, Any], expected: dict[str, Any], answer: Any) -> dict[str, float]:
    """A doc the incumbent refused: the match metrics say whether this answer declined too."""
    calls = answer_calls(answer)
    text = str(answer)
    declined = float(not calls and (_normal(text) == _normal(expected.get("content") or "") or is_refusal(text)))
    if kind == "tools":
        valid = _tools(request, None, calls)["tool_valid"]
        return {"tool_match": declined, "tool_names": declined, "tool_f1": declined,
                "spurious_call": float(bool(calls)), "missed_call": 0.0, "tool_valid": valid}
    if kind == "json":
        checked = _json(request, None, text)
        return {**checked, "json_match": declined, "field_agreement": declined}
    return {"similarity": declined, "exact": declined}
