"""Does an output keep to what its request asked for? One definition, used when a run stores each
answer (`generations.constraint_asked`, `constraint_violation`) and by the replay scorers.

A constraint can fail open: a server that ignores `response_format` (vLLM since v0.12 drops the old
`guided_*` fields and answers 200 with free text), a grammar engine that cannot hold some schema, a
model that answers in prose when a call was required. So every output is checked against the request,
whatever held it (the API, a local grammar, nothing):

- a JSON response format: the text must be JSON (`invalid_json`) that the schema accepts (an object for
  `json_object`; `schema_violation`);
- tools: a call must name an offered function (`unoffered_function`), the one `tool_choice` names if it
  names one (`wrong_function`), with arguments its parameters' schema accepts (`invalid_arguments`);
  `tool_choice` "required" or a named function without any call is `missing_call`.

A request offering tools with `tool_choice` auto whose answer calls nothing asked for no structure: it
is not checked. Neither is one whose answer carries calls for its JSON format (a call answers instead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.traffic.toolmatch import Call

JSON_FORMATS = ("json_object", "json_schema")


@dataclass(frozen=True)
class Check:
    asked: str  # 'json_schema', 'json_object' or 'tool_call'
    violation: str | None  # None: the output keeps to it


def answer_schema(request: dict[str, Any]) -> dict[str, Any]:
    """The schema a JSON request's answer must meet: its json_schema, or any object for json_object."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema: dict[str, Any] = (response_format.get("json_schema") or {}).get("schema") or {}
        return schema
    return {"type": "object"}


def parse_json(text: str | None) -> tuple[bool, Any]:
    """(is JSON, value) as a client's json.loads reads the text: no code fences, no prose around it."""
    try:
        return True, json.loads(text or "")
    except ValueError:
        return False, None


def fits_schema(value: Any, schema: dict[str, Any]) -> bool:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True


def _function(tools: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((t.get("function", t) for t in tools if t.get("function", t).get("name") == name), None)


def valid_call(call: Call, tools: list[dict[str, Any]]) -> bool:
    """The call names an offered function and its arguments are an object its parameters accept."""
    return _call_problem(call, tools) is None


def _call_problem(call: Call, tools: list[dict[str, Any]]) -> str | None:
    function = _function(tools, call.name)
    if function is None:
        return "unoffered_function"
    if call.arguments is None or not fits_schema(call.arguments, function.get("parameters") or {"type": "object"}):
        return "invalid_arguments"
    return None


def _named(choice: Any) -> str | None:
    """The function a `tool_choice` object names ({"type": "function", "function": {"name": ...}})."""
    function = choice.get("function") if isinstance(choice, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def check(request: dict[str, Any], text: str, calls: list[Call]) -> Check | None:
    """What the request asked its answer to keep to, and the first way this answer breaks it; None
    when it asked for no structure (plain text, or tools left to the model's choice and not used)."""
    tools = request.get("tools") or []
    choice = request.get("tool_choice")
    if calls:
        for call in calls:
            problem = _call_problem(call, tools)
            if problem is None and _named(choice) not in (None, call.name):
                problem = "wrong_function"
            if problem:
                return Check("tool_call", problem)
        return Check("tool_call", None)
    if tools and (choice == "required" or _named(choice) is not None):
        return Check("tool_call", "missing_call")
    kind = (request.get("response_format") or {}).get("type")
    if kind not in JSON_FORMATS:
        return None
    is_json, value = parse_json(text)
    if not is_json:
        return Check(kind, "invalid_json")
    return Check(kind, None if fits_schema(value, answer_schema(request)) else "schema_violation")
