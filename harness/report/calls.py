"""Tool calls and targets as a reader reads them: `get_weather(city="Oslo")`, never a Python repr.

The decision page and the sample browser both show calls through these functions, so the two pages
agree. Everything returned is plain text: the templates and the browser escape it like any data.
"""

from __future__ import annotations

import ast
import json
from typing import Any


def call_text(name: str, arguments: Any) -> str:
    """One call: `name(key=value, ...)` with JSON values; arguments that are not a JSON object are
    shown as given (`name(<raw text>)`), since a malformed call is itself worth seeing."""
    parsed = arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return f"{name}({arguments})"
    if not isinstance(parsed, dict):
        return f"{name}({json.dumps(parsed, ensure_ascii=False)})"
    inside = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in parsed.items())
    return f"{name}({inside})"


def _one_call(value: Any) -> bool:
    """A lone call rather than some JSON object: {name, arguments} or the OpenAI {function: {...}}."""
    if not isinstance(value, dict):
        return False
    function = value.get("function")
    return isinstance(function, dict) or (isinstance(value.get("name"), str) and "arguments" in value)


def _as_calls(value: Any) -> list[str] | None:
    """Calls text for a list of {name, arguments} (stored calls, or the OpenAI shape), or for one such
    call alone (a one-call target is stored as the call, not a list of it), else None."""
    if _one_call(value):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    shown = []
    for item in value:
        if not isinstance(item, dict):
            return None
        inner = item.get("function")
        function: dict[str, Any] = inner if isinstance(inner, dict) else item
        if not isinstance(function.get("name"), str):
            return None
        shown.append(call_text(function["name"], function.get("arguments", {})))
    return shown


def calls_text(stored: str | None) -> list[str]:
    """The calls of a stored `tool_calls` column (a JSON list), one line each; [] for none."""
    if not stored:
        return []
    try:
        value = json.loads(stored)
    except ValueError:
        return [stored]
    return [] if value == [] else _as_calls(value) or [stored]


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # lm-eval stores a list target as Python's repr of it
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def target_text(target: str | None) -> str:
    """A sample's target for display: expected calls as calls (one per line), a JSON value as JSON,
    anything else as it is."""
    if not target:
        return ""
    stripped = target.strip()
    if stripped[:1] not in ("[", "{"):
        return target
    value = _parse(stripped)
    calls = _as_calls(value)
    if calls is not None:
        return "\n".join(calls)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return target
