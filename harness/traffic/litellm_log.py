"""LiteLLM's standard logging payload (`StandardLoggingPayload` in litellm/types/utils.py, LiteLLM
1.110), one per line as its GCS bucket and S3 loggers write them (NDJSON), read as chat requests and
the answers given.

Read from a line: `call_type` (`completion` and `acompletion` are chat calls; the proxy's
/chat/completions logs `acompletion`), `status`, `model`, `messages` (the chat messages as sent to
LiteLLM, in the API's shape, a system prompt included), `model_parameters` (the request's other
parameters: tools, tool_choice, response_format, max_tokens, temperature ...; LiteLLM logs them as it
passed them on, so a provider that is not OpenAI-compatible may show its own tool shape, which is
refused), `response` (the ModelResponse, a chat.completion) and `startTime` (Unix seconds).

Everything else (`metadata` with the virtual key's hash and alias and the user, team and
organisation ids, `hidden_params` with response headers, costs, cache keys) decides no answer and
is dropped before the line is read. Calls other than chat (embeddings, Responses, Anthropic
Messages ...) and failed calls (`status: failure`: LiteLLM logs the error, not an answer, and a retry
or fallback that succeeded is its own line) are skipped and counted. A line whose messages LiteLLM
redacted (`turn_off_message_logging`) has nothing to replay and is refused.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.traffic.records import LoggedCall, TrafficProblem, timestamp

USED = ("call_type", "status", "model", "messages", "model_parameters", "response", "startTime")
CHAT_CALLS = frozenset({"completion", "acompletion"})
REDACTED = "redacted-by-litellm"  # litellm.constants.REDACTED_BY_LITELLM


def used(line: dict[str, Any]) -> dict[str, Any]:
    """The fields of a payload the import reads; the rest is dropped unread."""
    return {key: line[key] for key in USED if key in line}


def _redacted(messages: Any, response: Any) -> bool:
    turns = list(messages) if isinstance(messages, list) else []
    choices = response.get("choices") if isinstance(response, dict) else None
    turns += [c.get("message") for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []
    return any(isinstance(turn, dict) and turn.get("content") == REDACTED for turn in turns)


def calls(line: dict[str, Any], skipped: Counter[str]) -> list[LoggedCall]:
    """The line's chat call (none for another call type or a failed call, counted in `skipped` as
    `other:<call_type>` or `failed`)."""
    call_type, status = line.get("call_type"), line.get("status")
    if call_type not in CHAT_CALLS:
        skipped[f"other:{str(call_type)[:40]}"] += 1
        return []
    if status == "failure":
        skipped["failed"] += 1
        return []
    if status not in ("success", None):  # older payloads have no status field
        raise TrafficProblem(f"status {str(status)[:40]!r} is neither success nor failure")
    messages, response = line.get("messages"), line.get("response")
    if _redacted(messages, response):
        raise TrafficProblem("LiteLLM redacted this call's messages (turn_off_message_logging): nothing to replay")
    parameters = line.get("model_parameters") or {}
    if not isinstance(parameters, dict):
        raise TrafficProblem("model_parameters must be an object")
    model = {"model": line["model"]} if isinstance(line.get("model"), str) else {}
    request = {**model, "messages": messages, **{k: v for k, v in parameters.items() if k not in ("messages", "model")}}
    return [LoggedCall(request, response or None, timestamp(line.get("startTime")))]
