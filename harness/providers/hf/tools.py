"""Tools and JSON formats for a local model: how a request's tools reach the prompt, and how the
calls come back out of generated text.

Rendering. A chat template that knows tools (it mentions `tools`: Qwen 2.5, Llama 3.1+, Mistral v0.3)
gets them through `apply_chat_template(tools=...)`, with earlier calls and their results as the
template expects them. Any other template gets one fallback format, the Hermes convention that
Qwen and NousResearch models are trained on (README, "Tools on local models"):

    system:    <the request's system text, if any>
               You may call one or more functions ... <tools>{one JSON schema per line}</tools>
               ... <tool_call>{"name": ..., "arguments": {...}}</tool_call>
    assistant: <tool_call>{...}</tool_call>               (an earlier call)
    user:      <tool_response>{...}</tool_response>        (its result)

`tool_choice` "none" leaves the tools out; "required" and a named function add one sentence that asks
for a call. A JSON response format is asked for in the system text (with the schema). Both are also
held by a grammar unless the profile turns it off (grammar.py); the result says which (`json_decoding`).

Parsing. Calls are read from the text in the formats of the families we profile: Hermes/Qwen
`<tool_call>{...}</tool_call>`, Mistral `[TOOL_CALLS][{...}]`, and Llama 3's bare JSON object
`{"name": ..., "parameters": {...}}` (optionally after `<|python_tag|>`). What is left of the text is
the answer's content; markup whose JSON does not parse stays in the text (no call is invented).
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.providers.base import GenRequest, ToolCall

_FALLBACK = (
    "You may call one or more functions to answer the user. The functions you can call are described "
    "by these JSON schemas:\n<tools>\n{tools}\n</tools>\n"
    "To call a function, answer with one JSON object per call, each inside <tool_call></tool_call> tags:\n"
    "<tool_call>\n{{\"name\": \"<function name>\", \"arguments\": {{<arguments as JSON>}}}}\n</tool_call>"
)


def template_knows_tools(template: str | None) -> bool:
    return bool(template) and "tools" in str(template)


def _choice_sentence(tool_choice: Any) -> str:
    if tool_choice == "required":
        return "You must call at least one function."
    if isinstance(tool_choice, dict):
        return f"You must call the function {tool_choice.get('function', {}).get('name')}."
    return ""


def _format_sentence(response_format: Any) -> str:
    if not isinstance(response_format, dict):
        return ""
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return ("Answer with one JSON object and nothing else. It must match this JSON schema:\n"
                + json.dumps(schema, ensure_ascii=False))
    return "Answer with one JSON object and nothing else."


def _with_system(messages: list[dict[str, Any]], extra: str) -> list[dict[str, Any]]:
    """The request's messages with `extra` added to its system text (a system turn made if none)."""
    if not extra:
        return messages
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0])
        first["content"] = f"{first['content']}\n\n{extra}" if first["content"] else extra
        return [first, *messages[1:]]
    return [{"role": "system", "content": extra}, *messages]


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _native_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier calls as HF chat templates read them: arguments as objects, not JSON text."""
    turns = []
    for turn in messages:
        if "tool_calls" in turn:
            calls = [{"type": "function", "id": c.get("id"), "function": {
                "name": c["function"]["name"], "arguments": _arguments(c["function"]["arguments"])}}
                for c in turn["tool_calls"]]
            turn = {**turn, "tool_calls": calls}
        turns.append(turn)
    return turns


def _fallback_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier calls and results written in the fallback format, for templates that drop them."""
    turns = []
    for turn in messages:
        if turn.get("tool_calls"):
            calls = "\n".join("<tool_call>\n" + json.dumps({"name": c["function"]["name"], "arguments": _arguments(
                c["function"]["arguments"])}, ensure_ascii=False) + "\n</tool_call>" for c in turn["tool_calls"])
            turn = {"role": "assistant", "content": f"{turn['content']}\n{calls}".strip()}
        elif turn["role"] == "tool":
            turn = {"role": "user", "content": f"<tool_response>\n{turn['content']}\n</tool_response>"}
        turns.append(turn)
    return turns


def chat_for_template(request: GenRequest, knows_tools: bool) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """(messages, tools) to hand to `apply_chat_template` for this request."""
    messages = request.message_dicts
    tools = json.loads(request.tools) if request.tools else None
    choice = json.loads(request.tool_choice) if request.tool_choice else None
    if choice == "none":
        tools = None
    extra = [_format_sentence(json.loads(request.response_format)) if request.response_format else ""]
    if tools is None:
        return _with_system(_fallback_turns(messages), "\n\n".join(e for e in extra if e)), None
    extra.append(_choice_sentence(choice))
    if knows_tools:
        return _with_system(_native_turns(messages), "\n\n".join(e for e in extra if e)), tools
    listing = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    extra.insert(0, _FALLBACK.format(tools=listing))
    return _with_system(_fallback_turns(messages), "\n\n".join(e for e in extra if e)), None


_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(\[.*\])", re.DOTALL)


def _call(value: Any) -> ToolCall | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return ToolCall(name=value["name"], arguments=text)


def _json_values(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else [value]


def parse_tool_calls(text: str) -> tuple[str, tuple[ToolCall, ...]]:
    """(content left, calls) read from generated text; no recognised, parseable call leaves the text as is."""
    found: list[ToolCall] = []
    for match in _HERMES.finditer(text):
        call = _call(next(iter(_json_values(match.group(1)) or []), None))
        if call is not None:
            found.append(call)
    if found:
        return _HERMES.sub("", text).strip(), tuple(found)
    mistral = _MISTRAL.search(text)
    if mistral:
        calls = [_call(v) for v in _json_values(mistral.group(1)) or []]
        if calls and all(calls):
            return text[: mistral.start()].strip(), tuple(c for c in calls if c)
    bare = text.strip().removeprefix("<|python_tag|>").strip()
    if bare.startswith("{"):
        calls = [_call(v) for v in _json_values(bare) or []]
        if calls and all(c is not None and ("parameters" in v or "arguments" in v)
                         for c, v in zip(calls, _json_values(bare) or [], strict=True)):
            return "", tuple(c for c in calls if c)
    return text, ()
