"""Traffic records as replay docs: one doc per request, grouped by what kind of answer it asks for.

A request that offers tools is a `tools` doc (whatever the incumbent did with them), one with a JSON
response format a `json` doc, any other a `text` doc. A doc's `expected` answer is the team's
reference where the line has one, else the incumbent's logged answer, else none (scored on validity
alone; see harness.traffic.score). Fields are JSON text so that every doc has the same columns.
"""

from __future__ import annotations

import json
from typing import Any

from harness.traffic.records import TrafficProblem, TrafficRecord

KINDS = ("tools", "json", "text")


def kind_of(request: dict[str, Any]) -> str:
    if request.get("tools"):
        return "tools"
    if (request.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        return "json"
    return "text"


def _calls(calls: Any) -> list[dict[str, Any]]:
    """Tool calls as {name, arguments (JSON text)}, from the API's shape or a reference's."""
    found = []
    for call in calls or []:
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TrafficProblem("a reference tool call needs a name")
        arguments = function.get("arguments", {})
        found.append({"name": function["name"],
                      "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)})
    return found


def _from_reference(reference: Any, kind: str) -> dict[str, Any]:
    if kind == "tools" and isinstance(reference, list | dict) and not isinstance(reference, str):
        calls = reference.get("tool_calls") if isinstance(reference, dict) else reference
        return {"content": reference.get("content") if isinstance(reference, dict) else None,
                "tool_calls": _calls(calls)}
    if kind == "json" and not isinstance(reference, str):
        return {"content": json.dumps(reference, ensure_ascii=False), "tool_calls": []}
    if not isinstance(reference, str):
        raise TrafficProblem(f"a reference for a {kind} request must be text")
    return {"content": reference, "tool_calls": []}


def _from_response(response: dict[str, Any]) -> dict[str, Any]:
    message = response["choices"][0]["message"]
    content = message.get("content")
    return {"content": content if isinstance(content, str) else None, "tool_calls": _calls(message.get("tool_calls"))}


def logged_answer(response: dict[str, Any] | None) -> dict[str, Any] | None:
    """The incumbent's logged answer, who gave it and what it cost: it becomes an imported run."""
    if response is None:
        return None
    found = response.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    return {"answer": _from_response(response), "model": response.get("model"),
            "system_fingerprint": response.get("system_fingerprint"),
            "finish_reason": response["choices"][0].get("finish_reason"),
            "input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens")}


def _preview(request: dict[str, Any]) -> str:
    users = [m for m in request["messages"] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content)
    return str(content or "")[:500]


def _target(expected: dict[str, Any] | None) -> str:
    if expected is None:
        return ""
    if expected["tool_calls"]:
        return json.dumps(expected["tool_calls"], ensure_ascii=False)
    return str(expected.get("content") or "")


def to_doc(record: TrafficRecord) -> tuple[str, dict[str, Any]]:
    """(kind, doc) for one record; a reference of the wrong shape raises TrafficProblem."""
    kind = kind_of(record.request)
    if record.reference is not None:
        expected, source = _from_reference(record.reference, kind), "reference"
    elif record.response is not None:
        expected, source = _from_response(record.response), "incumbent"
    else:
        expected, source = None, None
    return kind, {
        "line": record.line, "kind": kind,
        "request": json.dumps(record.request, sort_keys=True, ensure_ascii=False),
        "expected": json.dumps(expected, ensure_ascii=False) if expected is not None else None,
        "expected_source": source,
        "logged": json.dumps(logged_answer(record.response), ensure_ascii=False) if record.response else None,
        "preview": _preview(record.request), "target": _target(expected),
    }
