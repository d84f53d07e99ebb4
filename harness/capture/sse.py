"""A streamed chat completion (Server-Sent Events, `chat.completion.chunk` objects) put back together
as the one `chat.completion` body a non-streamed request would have returned, so a captured stream
imports like any logged answer."""

from __future__ import annotations

import json
from typing import Any


def _events(raw: bytes) -> list[dict[str, Any]]:
    chunks = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]" or not data:
            continue
        value = json.loads(data)
        if isinstance(value, dict):
            chunks.append(value)
    return chunks


def _merge_calls(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    for delta in deltas:
        call = calls.setdefault(int(delta.get("index", len(calls))),
                                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        call["id"] = delta.get("id") or call["id"]
        function = delta.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""


def assemble(raw: bytes) -> dict[str, Any] | None:
    """The chat.completion a stream amounts to (first choice), or None when it holds no chunk.
    Raises ValueError for a data line that is not JSON."""
    chunks = _events(raw)
    if not chunks:
        return None
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage = None, None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            _merge_calls(calls, delta.get("tool_calls") or [])
            finish = choice.get("finish_reason") or finish
    first = chunks[0]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if any(text) or not calls else None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    body = {"id": first.get("id"), "object": "chat.completion", "created": first.get("created"),
            "model": first.get("model"), "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if first.get("system_fingerprint"):
        body["system_fingerprint"] = first["system_fingerprint"]
    if usage:
        body["usage"] = usage
    return body
