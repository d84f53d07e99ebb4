"""Read a traffic file in one of the shapes teams already have, all of it validated before any of it
is used, credentials removed from every record:

(a) request/response log lines: `{"request": {chat body}, "response": {chat.completion}}`;
(b) an OpenAI Batch API input file (`{"custom_id", "method", "url", "body"}` lines) with its output
    file (`{"custom_id", "response": {"status_code", "body"}}` lines), joined on custom_id;
(c) plain lines: `{"messages", "tools"?, "response_format"?, "reference"?}`;
(d) OpenTelemetry GenAI spans in an OTLP JSON export (`{"resourceSpans": ...}` lines; harness.traffic.otel);
(e) LiteLLM's standard logging payload (`{"call_type", "messages", "response", ...}` lines;
    harness.traffic.litellm_log).

The telemetry shapes (d, e) hold more than calls: what the import reads is taken out of a line first,
credentials are removed from that, and the rest is dropped unread. Spans and calls that are not chat
calls, and failed calls, are skipped and counted in the notes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config.secrets import scrub_secrets
from harness.errors import HarnessError
from harness.textfile import text_lines
from harness.traffic import litellm_log, otel
from harness.traffic.docs import check_reference
from harness.traffic.legacy import modern_request, modern_response
from harness.traffic.records import (
    LoggedCall,
    TrafficProblem,
    TrafficRecord,
    check_request,
    check_response,
    timestamp,
)

# Real requests nest a few levels (messages, content parts, tool schemas); a JSON Schema can go deeper.
MAX_DEPTH = 64
MAX_LINE_BYTES = 4 * 1024 * 1024  # one request with its answer; a larger line is a mistake, not a request


@dataclass
class Traffic:
    records: list[TrafficRecord]
    shape: str  # "log", "batch", "plain", "otel" or "litellm"
    credentials_removed: int = 0
    notes: list[str] = field(default_factory=list)  # what was skipped, and why


# Per telemetry shape: what of a line the import reads (taken before credentials are removed), and
# the calls in it (read after).
_TELEMETRY: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[Any, Counter[str]], list[LoggedCall]]]] = {
    "otel": (otel.plain_spans, otel.calls), "litellm": (litellm_log.used, litellm_log.calls)}
_UNIT = {"otel": "span", "litellm": "line"}


def _too_deep(value: Any) -> bool:
    """Whether a parsed value nests deeper than MAX_DEPTH (checked without recursion, so that the
    redaction and request walks that do recurse never meet such a value)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep_line(path: Path, number: int) -> str:
    return f"{path}: line {number} nests JSON deeper than {MAX_DEPTH} levels; no request does"


def _objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    lines = text_lines(path, MAX_LINE_BYTES)
    found = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}: line {number} is not JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:  # the parser recurses once per level: "[[[[...]]]]" exhausts the stack
            raise HarnessError(_too_deep_line(path, number)) from None
        if _too_deep(value):
            raise HarnessError(_too_deep_line(path, number))
        if not isinstance(value, dict):
            raise HarnessError(f"{path}: line {number} is not a JSON object")
        found.append((number, value))
    if not found:
        raise HarnessError(f"{path} holds no records")
    return found


def _shape(value: dict[str, Any]) -> str:
    if "resourceSpans" in value:
        return "otel"
    if "request" in value:
        return "log"
    if "custom_id" in value and "body" in value:
        return "batch"
    if "call_type" in value:  # before plain: a LiteLLM payload has messages too
        return "litellm"
    if "messages" in value:
        return "plain"
    raise TrafficProblem("is neither a request/response log line, a Batch API input line, a plain "
                         "{\"messages\": ...} line, an OTLP JSON line ({\"resourceSpans\": ...}) nor a LiteLLM "
                         "standard logging payload")


def _request(body: Any) -> dict[str, Any]:
    return check_request(modern_request(body))  # legacy `functions` requests as the tools they mean


def _response(body: Any) -> dict[str, Any]:
    return check_response(modern_response(body))


def _record(number: int, value: dict[str, Any], shape: str) -> TrafficRecord:
    if shape == "log":
        response = value.get("response")
        answer = _response(response) if response is not None else None
        # When: the line's own `timestamp` (a capture writes one), else the answer's `created`.
        at = timestamp(value.get("timestamp")) if "timestamp" in value else timestamp((answer or {}).get("created"))
        return TrafficRecord(number, _request(value["request"]), answer, at=at)
    if shape == "batch":
        if value.get("url") not in (None, "/v1/chat/completions"):
            raise TrafficProblem(f"is a Batch request for {value.get('url')!r}; only /v1/chat/completions replays")
        return TrafficRecord(number, _request(value["body"]), custom_id=str(value["custom_id"]))
    request = _request({k: v for k, v in value.items() if k != "reference"})
    reference = value.get("reference")
    if reference is not None:
        check_reference(reference, request)  # checked first: a wrong shape is refused before anything is written
    return TrafficRecord(number, request, reference=reference)


def _logged(number: int, call: LoggedCall) -> TrafficRecord:
    try:
        answer = _response(call.response) if call.response is not None else None
        return TrafficRecord(number, _request(call.request), answer, at=call.at, where=call.where)
    except TrafficProblem as exc:
        raise TrafficProblem(str(exc), where=call.where) from None


def _records(number: int, value: dict[str, Any], shape: str, skipped: Counter[str]) -> list[TrafficRecord]:
    if shape in _TELEMETRY:
        return [_logged(number, call) for call in _TELEMETRY[shape][1](value, skipped)]
    return [_record(number, value, shape)]


def _problem(path: Path, number: int, exc: TrafficProblem) -> str:
    place = f"line {number}" + (f" ({exc.where})" if exc.where else "")
    return f"{path}: {place} {exc}" if str(exc).startswith("is ") else f"{path}: {place}: {exc}"


def _notes(skipped: Counter[str], shape: str) -> list[str]:
    others = {key.split(":", 1)[1]: n for key, n in sorted(skipped.items()) if key.startswith("other:")}
    notes = []
    if others:
        listed = ", ".join(f"{name} {n}" for name, n in others.items())
        notes.append(f"{sum(others.values())} {_UNIT[shape]}(s) skipped that are not chat calls ({listed})")
    if skipped["failed"]:
        notes.append(f"{skipped['failed']} failed chat call(s) skipped: a failed call is not an answer")
    return notes


def read_traffic(path: Path, batch_output: Path | None = None) -> Traffic:
    """Every line checked (the first problem raised with its line number), then credentials removed."""
    records: list[TrafficRecord] = []
    shape, removed, skipped = None, 0, Counter[str]()
    for number, value in _objects(path):
        try:
            this = _shape(value)  # reads key names only: nothing of the line is echoed before it is cleaned
            if shape is not None and this != shape:
                raise TrafficProblem(f"is a {this} line in a file of {shape} lines")
            shape = this
            read = _TELEMETRY[this][0](value) if this in _TELEMETRY else value
            cleaned, found = scrub_secrets(read)  # before validation: no error message may echo a key
            removed += found
            records += _records(number, cleaned, this, skipped)
        except TrafficProblem as exc:
            raise HarnessError(_problem(path, number, exc)) from None
    assert shape is not None
    notes = _notes(skipped, shape)
    if not records:
        raise HarnessError(f"{path} holds no chat calls to import" + (f" ({'; '.join(notes)})" if notes else ""))
    if shape == "batch":
        records, found = _join_batch(records, batch_output, path)
        removed += found
    elif batch_output is not None:
        raise HarnessError(f"--batch-output goes with a Batch API input file; {path} holds {shape} lines")
    return Traffic(records, shape, removed, notes)


def _join_batch(records: list[TrafficRecord], output: Path | None,
                source: Path) -> tuple[list[TrafficRecord], int]:
    """Attach each Batch output line's answer to its input line by custom_id."""
    if output is None:
        return records, 0
    by_id = {r.custom_id: r for r in records}
    if len(by_id) != len(records):
        raise HarnessError(f"{source}: custom_id values repeat; each Batch input line needs its own")
    answers: dict[str, dict[str, Any]] = {}
    removed = 0
    for number, value in _objects(output):
        cleaned, found = scrub_secrets(value)
        removed += found
        custom_id = cleaned.get("custom_id")
        if custom_id not in by_id:
            raise HarnessError(f"{output}: line {number} answers custom_id {custom_id!r}, which no input line has")
        if str(custom_id) in answers:  # which answer is the incumbent's? refuse rather than guess
            raise HarnessError(f"{output}: line {number} answers custom_id {custom_id!r} again; "
                               "each request needs exactly one answer")
        body = (cleaned.get("response") or {}).get("body")
        try:
            answers[str(custom_id)] = _response(body)
        except TrafficProblem as exc:
            raise HarnessError(f"{output}: line {number}: {exc}") from None
    joined = []
    for r in records:
        answer = answers.get(str(r.custom_id))
        at = timestamp(answer.get("created")) if answer else None  # created is checked with the answer
        joined.append(TrafficRecord(r.line, r.request, answer, r.reference, r.custom_id, at=at))
    return joined, removed
