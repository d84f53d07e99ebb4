"""A logged chat request body as a GenRequest, and the answer handed back to a replay task's scorer.

Everything in the body that decides the answer travels: system, user, assistant (with tool calls)
and tool turns, tools, tool_choice, parallel_tool_calls, response_format, top_p, the presence and
frequency penalties, logit_bias, reasoning_effort, seed, stop and the token cap. What is sent otherwise
is written into the request's notes (stored per generation), with why: `developer` turns go as
`system` (the role newer OpenAI models take in their place; other providers know only `system`), the
temperature is 0 (replays are greedy: a paired comparison needs one answer per side), `n` above 1 is
sent as 1, a field the harness does not replay is named, and a request logged without a cap gets one
(harness.traffic.replay.token_cap). The profile's max_tokens does not lower a replay's cap: it is a
benchmark setting, and a replay must not be cut shorter than the answer it is compared with. Text
content given as parts is joined.
"""

from __future__ import annotations

import json
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


_GREEDY = "replays are greedy: a paired comparison needs one answer per side"


def request_from_body(body: dict[str, Any], max_tokens: int = 256, stop: tuple[str, ...] = (),
                      cap_origin: str | None = None, cap_note: str | None = None) -> GenRequest:
    """The GenRequest for a (validated) chat body, sent with `max_tokens` (harness.traffic.replay.token_cap:
    where it came from, and a note when the log set none)."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "text":
        response_format = None  # the API's default, not a feature
    tools = body.get("tools") or None
    notes = [cap_note] if cap_note else []
    temperature = body.get("temperature")
    if temperature != 0:
        logged = "not logged (the API's default, 1)" if temperature is None else f"logged {temperature}"
        notes.append(f"temperature: {logged}, sent 0 ({_GREEDY})")
    if any(turn.get("role") == "developer" for turn in body["messages"]):
        notes.append("developer turns sent as system (providers other than OpenAI's know only system)")
    notes += _unsent(body)
    seed = body.get("seed")
    return GenRequest(
        messages=tuple(_message(turn) for turn in body["messages"]),
        tools=canonical_json(tools),
        tool_choice=canonical_json(body.get("tool_choice")) if tools else None,
        parallel_tool_calls=body.get("parallel_tool_calls") if tools else None,
        response_format=canonical_json(response_format),
        max_tokens=max_tokens, stop=stop, temperature=0.0, seed=seed if isinstance(seed, int) else None,
        top_p=body.get("top_p"), presence_penalty=body.get("presence_penalty"),
        frequency_penalty=body.get("frequency_penalty"), logit_bias=canonical_json(body.get("logit_bias")),
        reasoning_effort=body.get("reasoning_effort"), cap_origin=cap_origin, notes=tuple(notes),
    )


# What request_from_body reads from a body; a logged field outside these (and outside the import's
# answer-neutral ones, which it drops) is not sent, and the generation's notes say so.
_SENT = frozenset({"messages", "tools", "tool_choice", "parallel_tool_calls", "response_format", "max_tokens",
                   "max_completion_tokens", "temperature", "seed", "stop", "model", "top_p", "presence_penalty",
                   "frequency_penalty", "logit_bias", "reasoning_effort"})


def _unsent(body: dict[str, Any]) -> list[str]:
    notes = [f"{name}: logged {json.dumps(body[name])[:80]}, not sent (the harness does not replay this field)"
             for name in sorted(set(body) - _SENT - {"n"})]
    if isinstance(body.get("n"), int) and body["n"] > 1:
        notes.append(f"n: logged {body['n']}, sent 1 (a paired comparison compares one answer per side)")
    return notes


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
