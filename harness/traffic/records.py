"""One replayable request from a team's traffic, checked the way the Chat Completions API would check
it: known roles, text content, tool calls with JSON arguments, tool results that answer a call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ROLES = ("system", "user", "assistant", "tool", "developer")


class TrafficProblem(ValueError):
    """What is wrong with one line (the reader adds the file and line number); `where` places it
    inside a line that holds several records (an OTLP span's path)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class TrafficRecord:
    """A request (chat body fields that decide the answer) and, when the log has one, the answer given."""

    line: int
    request: dict[str, Any]  # messages, tools?, tool_choice?, response_format?, max_tokens?, temperature?, seed?
    response: dict[str, Any] | None = None  # the incumbent's chat.completion body
    reference: Any = None  # a gold answer, when the team has one
    custom_id: str | None = None
    at: float | None = None  # when the request was sent (Unix seconds, UTC), when the log says
    where: str | None = None  # its place inside its line, where a line holds several (an OTLP span's path)

    @property
    def place(self) -> str:
        """Where the record is in its file, as an error message names it."""
        return f"line {self.line}" + (f" ({self.where})" if self.where else "")


@dataclass(frozen=True)
class LoggedCall:
    """One call as a telemetry line records it, turned into the API's shapes but not yet checked: the
    chat request body, the chat.completion given (None: none logged), when it was sent."""

    request: Any
    response: Any = None
    at: float | None = None
    where: str | None = None  # as TrafficRecord.where


# Fields that change how an answer is delivered, billed or kept, not what it says: not replayed, and
# not worth a note. Any other field a log sets is kept, so the replay can say it did not send it.
ANSWER_NEUTRAL = frozenset({"stream", "stream_options", "user", "store", "metadata", "logprobs", "top_logprobs",
                            "service_tier", "prompt_cache_key", "safety_identifier"})
# The sampling settings a replay passes on, with the type the API takes (checked at import).
_SETTINGS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "presence_penalty": ((int, float), "a number"), "frequency_penalty": ((int, float), "a number"),
    "top_p": ((int, float), "a number"), "logit_bias": (dict, "an object"), "n": (int, "an integer"),
    "reasoning_effort": (str, "a string")}


def check_request(body: Any) -> dict[str, Any]:
    """The fields of a chat request body that may decide its answer, validated (those that only
    decide delivery, billing or storage, ANSWER_NEUTRAL, are dropped)."""
    if not isinstance(body, dict):
        raise TrafficProblem("the request is not a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TrafficProblem("the request has no messages")
    calls: set[str] = set()
    for index, message in enumerate(messages):
        _check_message(message, index, calls)
    if "tools" in body:
        _check_tools(body["tools"])
    elif body.get("tool_choice") is not None:
        raise TrafficProblem("the request sets tool_choice but offers no tools")
    if "response_format" in body:
        _check_format(body["response_format"])
    for name, (kind, words) in _SETTINGS.items():
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise TrafficProblem(f"{name} must be {words}, not {json.dumps(value)[:60]}")
    return {k: v for k, v in body.items() if k not in ANSWER_NEUTRAL}


def _check_message(message: Any, index: int, calls: set[str]) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise TrafficProblem(f"{where} is not an object")
    role = message.get("role")
    if role not in ROLES:
        raise TrafficProblem(f"{where} has unknown role {role!r}; roles are {', '.join(ROLES)}")
    content = message.get("content")
    if not (content is None or isinstance(content, str) or _text_parts(content)):
        raise TrafficProblem(f"{where}.content must be text (or text parts)")
    for number, call in enumerate(message.get("tool_calls") or []):
        calls.add(_check_call(call, f"{where}.tool_calls[{number}]"))
    if role == "tool":
        answered = message.get("tool_call_id")
        if answered not in calls:
            raise TrafficProblem(f"{where} is a tool result for {answered!r}, which no earlier assistant turn called")


def _text_parts(content: Any) -> bool:
    return isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content)


def _check_call(call: Any, where: str) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise TrafficProblem(f"{where} has no function name")
    arguments = function.get("arguments")
    try:
        if not isinstance(arguments, str):
            raise TypeError
        json.loads(arguments)
    except (TypeError, ValueError):
        raise TrafficProblem(f"{where}.function.arguments is not JSON text") from None
    if not isinstance(call.get("id"), str):
        raise TrafficProblem(f"{where} has no id")
    return str(call["id"])


def _check_tools(tools: Any) -> None:
    if not isinstance(tools, list):
        raise TrafficProblem("tools must be a list")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TrafficProblem(f"tools[{index}] is not a function with a name")
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise TrafficProblem(f"tools[{index}].function.parameters must be a JSON schema object")


def _check_format(response_format: Any) -> None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise TrafficProblem(f"response_format.type {kind!r} is not text, json_object or json_schema")
    if kind == "json_schema" and not isinstance((response_format.get("json_schema") or {}).get("schema"), dict):
        raise TrafficProblem("response_format.json_schema.schema must be a JSON schema object")


def check_response(body: Any) -> dict[str, Any]:
    """A logged chat.completion body: at least one choice with a message."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict) \
            or not isinstance(choices[0].get("message"), dict):
        raise TrafficProblem("the response has no choices[0].message")
    for number, call in enumerate(choices[0]["message"].get("tool_calls") or []):
        _check_call(call, f"response tool_calls[{number}]")
    timestamp(body.get("created"))  # a malformed time is refused here, with its line
    return dict(body)


def timestamp(value: Any) -> float | None:
    """Unix seconds from a log's timestamp: a number (seconds; above 1e12, milliseconds) or an ISO 8601
    string (a `Z` or an offset; none is read as UTC); None for none (or 0). Raises TrafficProblem for
    anything else, so a typo in one line does not silently drop it from the traffic's rhythm."""
    if value is None or value == 0:  # 0: a placeholder (test logs, redacted exports), not 1970
        return None
    if isinstance(value, bool):
        raise TrafficProblem(f"timestamp {value!r} is neither a number nor an ISO 8601 time")
    if isinstance(value, (int, float)):
        return float(value) / 1000 if value > 1e12 else float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise TrafficProblem(f"timestamp {value[:40]!r} is not an ISO 8601 time") from None
        return parsed.timestamp() if parsed.tzinfo else parsed.replace(tzinfo=UTC).timestamp()
    raise TrafficProblem("timestamp is neither a number nor an ISO 8601 time")
