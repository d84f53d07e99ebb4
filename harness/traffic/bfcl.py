"""BFCL (Berkeley Function Calling Leaderboard v4, Apache-2.0) items as replay docs.

An item is one user turn, the functions on offer and, except for `irrelevance` (where the right
answer is to call nothing), the possible answers: per call, per parameter, the accepted values.
Function descriptions use Gorilla's type names; requests carry them as JSON Schema (`dict` ->
`object`, `float` -> `number`, `tuple` -> `array`, `any` -> no type). Dots in function names are
not allowed by the Chat Completions API, so names are sent with `_` in their place (BFCL's own
handlers for function-calling APIs do the same) and the possible answers are renamed to match.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def _schema(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _schema(v) for k, v in value.items() if not (k == "type" and v == "any")}
        if isinstance(value.get("type"), str) and value["type"] in _TYPES:
            converted["type"] = _TYPES[value["type"]]
        return converted
    if isinstance(value, list):
        return [_schema(v) for v in value]
    return value


def api_name(name: str) -> str:
    return name.replace(".", "_")


def as_tool(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function description as a Chat Completions tool."""
    parameters = _schema(function.get("parameters") or {"type": "object", "properties": {}})
    return {"type": "function", "function": {"name": api_name(function["name"]),
                                             "description": function.get("description", ""),
                                             "parameters": parameters}}


def to_doc(item: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    """A replay doc (kind `bfcl`) for one item and its possible answers (None: irrelevance)."""
    messages = item["question"][0]
    possible = [{api_name(name): params for name, params in call.items()} for call in answer["ground_truth"]] \
        if answer is not None else []
    request = {"messages": messages, "tools": [as_tool(f) for f in item["function"]]}
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return {"line": 0, "kind": "bfcl", "request": json.dumps(request, sort_keys=True, ensure_ascii=False),
            "expected": None, "expected_source": None, "logged": None, "bfcl_id": item["id"],
            "possible": json.dumps(possible, ensure_ascii=False),
            "preview": str(users[-1] if users else "")[:500], "target": json.dumps(possible, ensure_ascii=False)}


def subset(items: list[dict[str, Any]], size: int | None) -> list[dict[str, Any]]:
    """A deterministic subset: items ordered by a hash of their id, the first `size` kept."""
    ordered = sorted(items, key=lambda item: hashlib.sha256(item["id"].encode()).hexdigest())
    return ordered[:size] if size else ordered
