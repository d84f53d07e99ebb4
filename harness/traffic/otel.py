"""OpenTelemetry GenAI spans in an OTLP JSON file export (one `{"resourceSpans": [...]}` object per
line, as the SDKs' file exporters and the Collector's `file` exporter write them), read as chat
requests and the answers given.

The attributes follow the GenAI semantic conventions of semconv v1.41.0, the last release that held
them before they moved to a repository of their own; its unreleased changes so far add attributes and
part types but rename or remove none read here. A span whose `gen_ai.operation.name` is `chat` is one
call:

- request: `gen_ai.system_instructions` (a system turn), `gen_ai.input.messages` (user, assistant and
  tool turns from `text`, `tool_call` and `tool_call_response` parts), `gen_ai.tool.definitions`,
  `gen_ai.request.model`, `.max_tokens`, `.temperature`, `.top_p`, `.seed`, `.frequency_penalty`,
  `.presence_penalty`, `.stop_sequences`, `.choice.count` (n), `.top_k`, and `gen_ai.output.type`
  (`json` asks for a JSON object: the conventions record no schema);
- answer: `gen_ai.output.messages` (one per choice; `finish_reason` `tool_call` is the API's
  `tool_calls`), `gen_ai.response.model`, `.id`, `.finish_reasons`, `gen_ai.usage.input_tokens`,
  `.output_tokens`;
- when: the span's `startTimeUnixNano`.

The four message-like attributes are JSON text or structured values (the conventions allow both).
Values are typed as OTLP JSON types them (`{"stringValue": ...}`, `{"intValue": "42"}`: 64-bit
integers as decimal strings, `arrayValue`, `kvlistValue` ...) and decoded strictly. `reasoning` parts
are left out (no Chat Completions turn carries them back); other part types (media, server tools) are
refused. A `tool_call` without an id gets one from its position, and a `tool_call_response` without
one answers the oldest call not yet answered.

Other spans (agents, tools, embeddings, HTTP) and failed chat calls (span status ERROR, `error.type`,
a `finish_reason` of `error`) are skipped and counted: a failure is not an answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from harness.traffic.records import LoggedCall, TrafficProblem

# What the import reads from a chat span; every other attribute is dropped unread.
CONTENT = ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions")
_INTEGER = {"gen_ai.request.max_tokens": "max_tokens", "gen_ai.request.seed": "seed",
            "gen_ai.request.choice.count": "n"}
_NUMBER = {"gen_ai.request.temperature": "temperature", "gen_ai.request.top_p": "top_p",
           "gen_ai.request.frequency_penalty": "frequency_penalty",
           "gen_ai.request.presence_penalty": "presence_penalty", "gen_ai.request.top_k": "top_k"}
_OTHER = ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.request.stop_sequences", "gen_ai.output.type",
          "gen_ai.response.model", "gen_ai.response.id", "gen_ai.response.finish_reasons",
          "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "error.type")
READ = frozenset((*CONTENT, *_INTEGER, *_NUMBER, *_OTHER))
STATUS_ERROR = (2, "STATUS_CODE_ERROR")  # Status.code: the enum's number, or its name
FINISH = {"tool_call": "tool_calls"}  # the conventions' finish reasons in the API's words
_DIGITS = re.compile(r"-?[0-9]+")


def _integral(value: Any) -> bool:
    """An OTLP JSON 64-bit integer: a decimal string, or a JSON number without a fraction."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _DIGITS.fullmatch(value) is not None)


def _any_value(value: Any, where: str) -> Any:
    """An OTLP JSON AnyValue as the value it holds (an empty one is None). Messages never echo the value:
    they are raised before credentials are removed."""
    if not isinstance(value, dict) or len(value) > 1:
        raise TrafficProblem(f"{where} is not an OTLP value (one of stringValue, intValue, doubleValue, "
                             "boolValue, arrayValue, kvlistValue, bytesValue)")
    if not value:
        return None
    ((kind, item),) = value.items()
    if kind in ("stringValue", "bytesValue") and isinstance(item, str):
        return item  # bytes stay base64 text
    if kind == "boolValue" and isinstance(item, bool):
        return item
    if kind == "intValue" and _integral(item):
        return int(item)
    if kind == "doubleValue" and ((isinstance(item, int | float) and not isinstance(item, bool))
                                  or item in ("NaN", "Infinity", "-Infinity")):
        return float(item)
    if kind == "arrayValue" and isinstance(item, dict) and isinstance(item.get("values", []), list):
        return [_any_value(v, f"{where}[{i}]") for i, v in enumerate(item.get("values", []))]
    if kind == "kvlistValue" and isinstance(item, dict):
        return _attributes(item.get("values", []), where)
    raise TrafficProblem(f"{where} has a malformed {kind}" if kind.endswith("Value") else
                         f"{where} has unknown value type {kind[:40]!r}")


def _attributes(pairs: Any, where: str) -> dict[str, Any]:
    if not isinstance(pairs, list):
        raise TrafficProblem(f"{where} must be a list of {{key, value}} pairs")
    found = {}
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise TrafficProblem(f"{where}[{index}] is not a {{key, value}} pair")
        found[pair["key"]] = _any_value(pair.get("value", {}), f"attribute {pair['key'][:80]!r}")
    return found


def _spans(line: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, span) for every span in an export line, in file order."""
    groups = line.get("resourceSpans")
    if not isinstance(groups, list):
        raise TrafficProblem("resourceSpans must be a list")
    for r, group in enumerate(groups):
        scopes = group.get("scopeSpans", []) if isinstance(group, dict) else None
        if not isinstance(scopes, list):
            raise TrafficProblem(f"resourceSpans[{r}].scopeSpans must be a list")
        for s, scope in enumerate(scopes):
            spans = scope.get("spans", []) if isinstance(scope, dict) else None
            if not isinstance(spans, list):
                raise TrafficProblem(f"resourceSpans[{r}].scopeSpans[{s}].spans must be a list")
            for k, span in enumerate(spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]"
                if not isinstance(span, dict):
                    raise TrafficProblem("the span is not an object", where=where)
                yield where, span


def _content(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # recorded structured
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise TrafficProblem(f"{name} is not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise TrafficProblem(f"{name} nests too deep") from None


def _plain_span(where: str, span: dict[str, Any]) -> dict[str, Any]:
    try:
        attributes = _attributes(span.get("attributes", []), "attributes")
    except TrafficProblem as exc:
        raise TrafficProblem(str(exc), where=where) from None
    operation = attributes.get("gen_ai.operation.name")
    if operation != "chat":
        return {"where": where, "operation": operation[:40] if isinstance(operation, str) else None}
    status = span.get("status")
    kept = {name: attributes[name] for name in READ if name in attributes}
    try:
        kept |= {name: _content(name, kept[name]) for name in CONTENT if name in kept}
    except TrafficProblem as exc:
        raise TrafficProblem(str(exc), where=where) from None
    return {"where": where, "operation": operation, "start": span.get("startTimeUnixNano"),
            "status": status.get("code") if isinstance(status, dict) else None, "attributes": kept}


def plain_spans(line: dict[str, Any]) -> list[dict[str, Any]]:
    """What an export line holds that the import reads, as plain JSON: per span its path and operation,
    and for chat spans the attributes in READ (decoded; message-like ones parsed), status code and
    start. Resources, scopes, events, links and other attributes are dropped unread; credentials are
    removed from what is kept before `calls` reads it."""
    return [_plain_span(where, span) for where, span in _spans(line)]


def _nanoseconds(value: Any) -> float | None:
    if value in (None, 0, "0"):
        return None
    if _integral(value):
        return int(value) / 1e9
    raise TrafficProblem("startTimeUnixNano is not a count of nanoseconds")


def _finish_reasons(attributes: dict[str, Any]) -> list[Any]:
    reasons = attributes.get("gen_ai.response.finish_reasons")
    if reasons is not None and not isinstance(reasons, list):
        raise TrafficProblem("gen_ai.response.finish_reasons must be a list")
    return reasons or []


def _failed(span: dict[str, Any]) -> bool:
    attributes = span["attributes"]
    outputs = attributes.get("gen_ai.output.messages")
    reasons = [m.get("finish_reason") for m in outputs if isinstance(m, dict)] if isinstance(outputs, list) else []
    reasons += _finish_reasons(attributes)
    return span["status"] in STATUS_ERROR or attributes.get("error.type") is not None or "error" in reasons


def calls(spans: list[dict[str, Any]], skipped: Counter[str]) -> list[LoggedCall]:
    """A call per chat span; other spans and failed calls counted in `skipped` (`other:<operation>`,
    `failed`). Raises TrafficProblem naming the span's path."""
    found = []
    for span in spans:
        if span["operation"] != "chat":
            skipped[f"other:{span['operation'] or 'not GenAI'}"] += 1
            continue
        try:
            if _failed(span):
                skipped["failed"] += 1
            else:
                found.append(_call(span))
        except TrafficProblem as exc:
            raise TrafficProblem(str(exc), where=span["where"]) from None
    return found


def _call(span: dict[str, Any]) -> LoggedCall:
    attributes = span["attributes"]
    request: dict[str, Any] = {}
    if isinstance(attributes.get("gen_ai.request.model"), str):
        request["model"] = attributes["gen_ai.request.model"]
    request["messages"] = _messages(attributes)
    tools = _tools(attributes.get("gen_ai.tool.definitions"))
    if tools is not None:
        request["tools"] = tools
    request |= _settings(attributes)
    response = _answer(attributes)
    if tools:
        _check_schemas_kept(tools, request["messages"], response)
    return LoggedCall(request, response, _nanoseconds(span["start"]), span["where"])


def _settings(attributes: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, field in (*_INTEGER.items(), *_NUMBER.items()):
        value = attributes.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int if name in _INTEGER else int | float):
            kind = "an integer" if name in _INTEGER else "a number"
            raise TrafficProblem(f"{name} must be {kind}, not {json.dumps(value)[:60]}")
        settings[field] = value
    stop = attributes.get("gen_ai.request.stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise TrafficProblem("gen_ai.request.stop_sequences must be a list of strings")
        settings["stop"] = stop
    output = attributes.get("gen_ai.output.type")
    if output == "json":
        settings["response_format"] = {"type": "json_object"}
    elif output not in (None, "text"):
        raise TrafficProblem(f"gen_ai.output.type {str(output)[:40]!r} asks for other than text or JSON; "
                             "only text and JSON answers replay")
    return settings


def _parts(message: Any, where: str) -> list[tuple[str, Any, str]]:
    """(type, part, path) for a message's parts, reasoning left out; other types than text, tool_call
    and tool_call_response refused."""
    parts = message.get("parts") if isinstance(message, dict) else None
    if not isinstance(parts, list):
        raise TrafficProblem(f"{where} has no parts")
    found = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        path = f"{where}.parts[{index}]"
        if kind == "text" and not isinstance(part.get("content"), str):
            raise TrafficProblem(f"{path} is a text part without text content")
        if kind not in ("text", "tool_call", "tool_call_response", "reasoning"):
            raise TrafficProblem(f"{path} is a {str(kind)[:40]!r} part; only text, tool_call and "
                                 "tool_call_response parts replay")
        if kind != "reasoning":
            found.append((kind, part, path))
    return found


def _text(texts: list[str]) -> str | list[dict[str, str]]:
    return texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _tool_call(part: dict[str, Any], path: str, default_id: str) -> dict[str, Any]:
    if not isinstance(part.get("name"), str):
        raise TrafficProblem(f"{path} is a tool_call without a name")
    arguments = part.get("arguments")
    call_id = part.get("id")
    return {"id": call_id if isinstance(call_id, str) and call_id else default_id, "type": "function",
            "function": {"name": part["name"], "arguments": "{}" if arguments is None else _json_text(arguments)}}


def _messages(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = attributes.get("gen_ai.system_instructions")
    if system is not None:
        parts = _parts({"parts": system}, "gen_ai.system_instructions")
        if any(kind != "text" for kind, _, _ in parts):
            raise TrafficProblem("gen_ai.system_instructions may hold text parts only")
        messages.append({"role": "system", "content": _text([part["content"] for _, part, _ in parts])})
    inputs = attributes.get("gen_ai.input.messages")
    if not inputs:
        raise TrafficProblem("the chat span has no gen_ai.input.messages (content capture is opt-in; "
                             "instrumentations on semconv 1.36 or earlier record it in events, which are not read)")
    if not isinstance(inputs, list):
        raise TrafficProblem("gen_ai.input.messages must be a list of messages")
    pending: list[str] = []  # ids of calls not yet answered, oldest first
    for turn, message in enumerate(inputs):
        messages += _turns(message, turn, pending)
    return messages


def _turns(message: Any, turn: int, pending: list[str]) -> list[dict[str, Any]]:
    """The API's turns for one input message: its tool results (one `tool` turn each), then its text
    and calls as a turn of its role."""
    where = f"gen_ai.input.messages[{turn}]"
    parts = _parts(message, where)
    role = message.get("role")
    texts = [part["content"] for kind, part, _ in parts if kind == "text"]
    calls = [_tool_call(part, path, f"call_{turn}_{index}")
             for index, (kind, part, path) in enumerate(parts) if kind == "tool_call"]
    if calls and role != "assistant":
        raise TrafficProblem(f"{where} is a {str(role)[:20]!r} message with tool calls; only assistant turns "
                             "call tools")
    pending += [call["id"] for call in calls]
    turns: list[dict[str, Any]] = []
    for kind, part, _ in parts:
        if kind == "tool_call_response":
            answered = part.get("id") if isinstance(part.get("id"), str) else (pending[0] if pending else None)
            if answered in pending:
                pending.remove(answered)
            result = part["response"] if "response" in part else part.get("result")  # the spec's example says result
            turns.append({"role": "tool", "tool_call_id": answered,
                          "content": "" if result is None else _json_text(result)})
    if role == "assistant":
        turns.append(_assistant(_text(texts) if texts else None, calls))
    elif texts or not turns:
        turns.append({"role": role, "content": _text(texts) if texts else ""})
    return turns


def _assistant(content: Any, calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})}


def _tools(definitions: Any) -> list[dict[str, Any]] | None:
    if definitions is None:
        return None
    if not isinstance(definitions, list):
        raise TrafficProblem("gen_ai.tool.definitions must be a list")
    tools = []
    for index, definition in enumerate(definitions):
        if isinstance(definition, dict) and isinstance(definition.get("function"), dict):
            tools.append(definition)  # recorded in the API's own shape
        elif isinstance(definition, dict) and definition.get("type") == "function":
            function = {k: definition[k] for k in ("name", "description", "parameters")
                        if definition.get(k) is not None}
            tools.append({"type": "function", "function": function})
        else:
            kind = definition.get("type") if isinstance(definition, dict) else None
            raise TrafficProblem(f"gen_ai.tool.definitions[{index}] is a {str(kind)[:40]!r} tool; only function "
                                 "tools replay")
    return tools


def _check_schemas_kept(tools: list[dict[str, Any]], messages: list[dict[str, Any]], response: Any) -> None:
    """The conventions advise against recording optional tool properties: a function logged without
    `parameters` but called with arguments lost its schema, and a replay without it is not the request."""
    bare = {t["function"].get("name") for t in tools if "parameters" not in t["function"]}
    answers = [c["message"] for c in response["choices"]] if response else []
    for message in [*messages, *answers]:
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] in bare and call["function"]["arguments"].strip() not in ("", "{}"):
                raise TrafficProblem(f"gen_ai.tool.definitions: {call['function']['name']!r} has no parameters but "
                                     "is called with arguments; record the tool definitions whole")


def _answer(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """The chat.completion the span's output messages make (None: none recorded)."""
    outputs = attributes.get("gen_ai.output.messages")
    if not outputs:
        return None
    if not isinstance(outputs, list):
        raise TrafficProblem("gen_ai.output.messages must be a list of messages")
    reasons = _finish_reasons(attributes)
    choices = []
    for index, message in enumerate(outputs):
        where = f"gen_ai.output.messages[{index}]"
        parts = _parts(message, where)
        if any(kind == "tool_call_response" for kind, _, _ in parts):
            raise TrafficProblem(f"{where} holds a tool_call_response; an answer calls tools, it does not answer them")
        texts = [part["content"] for kind, part, _ in parts if kind == "text"]
        calls = [_tool_call(part, path, f"call_out_{index}_{k}")
                 for k, (kind, part, path) in enumerate(parts) if kind == "tool_call"]
        finish = message.get("finish_reason") or (reasons[index] if index < len(reasons) else None)
        finish = FINISH.get(finish, finish) if isinstance(finish, str) else None
        choices.append({"index": index, "finish_reason": finish,
                        "message": _assistant("".join(texts) if texts else None, calls)})
    response: dict[str, Any] = {"object": "chat.completion", "choices": choices}
    for name, field in (("gen_ai.response.id", "id"), ("gen_ai.response.model", "model")):
        if isinstance(attributes.get(name), str):
            response[field] = attributes[name]
    usage = {field: attributes[name] for name, field in (("gen_ai.usage.input_tokens", "prompt_tokens"),
                                                         ("gen_ai.usage.output_tokens", "completion_tokens"))
             if name in attributes}
    if any(isinstance(n, bool) or not isinstance(n, int) for n in usage.values()):
        raise TrafficProblem("gen_ai.usage.input_tokens and output_tokens must be integers")
    if usage:
        response["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return response
