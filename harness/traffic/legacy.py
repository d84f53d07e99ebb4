"""Chat requests and answers in the API's legacy function-calling shape (`functions`,
`function_call`, `role: "function"` turns: deprecated in 2023, still in many logs) turned into the
tools shape they are equivalent to, before anything checks or stores them. Dropping them would make
a tool request a text request and the incumbent's call an empty answer: what decides the answer
would be lost.

The legacy shape has no call ids, so each call gets one from its position (`call_legacy_<turn>`),
and a `function` turn answers the latest earlier call of the same name.
"""

from __future__ import annotations

from typing import Any

from harness.traffic.records import TrafficProblem

LEGACY_FINISH = {"function_call": "tool_calls"}


def _call_id(turn: int) -> str:
    return f"call_legacy_{turn}"


def _tool_call(call: Any, turn: int) -> dict[str, Any]:
    function = {"name": call.get("name"), "arguments": call.get("arguments")} if isinstance(call, dict) else {}
    return {"id": _call_id(turn), "type": "function", "function": function}


def _choice(function_call: Any) -> Any:
    if function_call in ("none", "auto"):
        return function_call
    if isinstance(function_call, dict) and isinstance(function_call.get("name"), str):
        return {"type": "function", "function": {"name": function_call["name"]}}
    raise TrafficProblem("function_call must be \"none\", \"auto\" or {\"name\": ...}")


def _messages(messages: list[Any]) -> list[Any]:
    converted: list[Any] = []
    called: dict[str, str] = {}  # function name -> id of its latest call
    for turn, message in enumerate(messages):
        if not isinstance(message, dict):
            converted.append(message)
            continue
        if message.get("function_call") is not None:
            if message.get("tool_calls"):
                raise TrafficProblem(f"messages[{turn}] has both function_call and tool_calls")
            call = _tool_call(message["function_call"], turn)
            called[str(call["function"].get("name"))] = call["id"]
            message = {k: v for k, v in message.items() if k != "function_call"} | {"tool_calls": [call]}
        elif message.get("role") == "function":
            name = message.get("name")
            if name not in called:
                raise TrafficProblem(f"messages[{turn}] is a function result for {name!r}, "
                                     "which no earlier assistant turn called")
            message = {"role": "tool", "tool_call_id": called[str(name)], "content": message.get("content")}
        converted.append(message)
    return converted


def _is_legacy(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return "functions" in body or "function_call" in body or (isinstance(messages, list) and any(
        isinstance(m, dict) and (m.get("role") == "function" or m.get("function_call") is not None)
        for m in messages))


def modern_request(body: Any) -> Any:
    """The request with `functions` as `tools`, `function_call` as `tool_choice`, and legacy turns as
    tool calls and tool results; a request already in the tools shape (or not an object, for the
    checks to refuse) comes back unchanged."""
    if not isinstance(body, dict) or not _is_legacy(body):
        return body
    body = dict(body)
    functions, function_call = body.pop("functions", None), body.pop("function_call", None)
    if functions is not None:
        if "tools" in body:
            raise TrafficProblem("the request has both functions and tools; a request uses one")
        if not isinstance(functions, list):
            raise TrafficProblem("functions must be a list")
        body["tools"] = [{"type": "function", "function": f} for f in functions]
    if function_call is not None:
        if "tool_choice" in body:
            raise TrafficProblem("the request has both function_call and tool_choice; a request uses one")
        body["tool_choice"] = _choice(function_call)
    if isinstance(body.get("messages"), list):
        body["messages"] = _messages(body["messages"])
    return body


def modern_response(body: Any) -> Any:
    """A logged chat.completion whose choices called a function the legacy way, with that call as
    a tool call (finish reason `tool_calls`); any other body comes back unchanged."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not any(
            isinstance(c, dict) and isinstance(c.get("message"), dict) and c["message"].get("function_call")
            is not None for c in choices):
        return body
    converted = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and message.get("function_call") is not None:
            if message.get("tool_calls"):
                raise TrafficProblem("the response has both function_call and tool_calls")
            call = _tool_call(message["function_call"], 0)
            message = {k: v for k, v in message.items() if k != "function_call"} | {"tool_calls": [call]}
            finish = choice.get("finish_reason")
            choice = {**choice, "message": message, "finish_reason": LEGACY_FINISH.get(finish, finish)}
        converted.append(choice)
    return {**body, "choices": converted}
