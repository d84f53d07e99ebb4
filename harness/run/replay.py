"""A logged chat request body as a GenRequest, and the answer handed back to a replay task's scorer.

Everything in the body that decides the answer travels: system, user, assistant (with tool calls)
and tool turns, tools, tool_choice and response_format. `developer` turns are sent as `system`
(the role newer OpenAI models take in their place; other providers know only `system`). Text
content given as parts is joined.
"""

from __future__ import annotations

from typing import Any

from harness.providers.base import GenRequest, GenResult, Message, ToolCall, canonical_json


def _content(value: Any) -> str:
    if isinstance(value, list):
        return "".join(part.get("text", "") for part in value if isinstance(part, dict))
    return value if isinstance(value, str) else ""


def _message(turn: dict[str, Any]) -> Message:
    calls = tuple(ToolCall(name=c["function"]["name"], arguments=c["function"]["arguments"], id=c.get("id"))
                  for c in turn.get("tool_calls") or [])
    role = "system" if turn["role"] == "developer" else turn["role"]
    return Message(role=role, content=_content(turn.get("content")), tool_calls=calls,
                   tool_call_id=turn.get("tool_call_id"))


def request_from_body(body: dict[str, Any], **decoding: Any) -> GenRequest:
    """The GenRequest for a (validated) chat body; `decoding` holds max_tokens, stop, temperature, seed."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "text":
        response_format = None  # the API's default, not a feature
    return GenRequest(
        messages=tuple(_message(turn) for turn in body["messages"]),
        tools=canonical_json(body.get("tools") or None),
        tool_choice=canonical_json(body.get("tool_choice")) if body.get("tools") else None,
        response_format=canonical_json(response_format),
        **decoding,
    )


class Answer(str):
    """The answer's text, as lm-eval expects, carrying what a replay scorer also needs."""

    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    error: str | None

    def __new__(cls, result: GenResult) -> Answer:
        answer = super().__new__(cls, result.text)
        answer.tool_calls, answer.finish_reason, answer.error = result.tool_calls, result.finish_reason, result.error
        return answer

    def __reduce__(self) -> Any:  # pickled across processes under data parallelism
        return (_rebuild, (str(self), self.tool_calls, self.finish_reason, self.error))


def _rebuild(text: str, tool_calls: tuple[ToolCall, ...], finish_reason: str | None, error: str | None) -> Answer:
    return Answer(GenResult(key="", text=text, tool_calls=tool_calls, finish_reason=finish_reason, error=error))
