"""Reading a team's traffic: three shapes in, every line checked with its line number, credentials
removed before anything else sees a record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.traffic.read import MAX_LINE_BYTES, read_traffic

CANARY = "sk-canary0123456789abcdefghijklmnop"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
CONVERSATION = [
    {"role": "system", "content": "You are a travel assistant."},
    {"role": "user", "content": f"Weather in Oslo? my key is {CANARY}"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
        {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Bergen\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"temp_c\": 3}"},
    {"role": "tool", "tool_call_id": "c2", "content": "{\"temp_c\": 5}"},
    {"role": "user", "content": "Which is warmer?"},
]
ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
          "system_fingerprint": "fp_1", "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": "Bergen."}}]}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_log_lines(tmp_path: Path) -> None:
    request = {"model": "gpt-4o", "messages": CONVERSATION, "tools": TOOLS, "temperature": 0}
    headers = {"Authorization": f"Bearer {CANARY}"}
    traffic = read_traffic(_write(tmp_path / "log.jsonl", [
        {"request": request, "response": ANSWER, "headers": headers},
        {"request": {"messages": [{"role": "user", "content": "JSON please"}], "response_format": SCHEMA},
         "response": ANSWER},
    ]))
    assert traffic.shape == "log" and len(traffic.records) == 2
    first = traffic.records[0]
    assert first.request["tools"] == TOOLS and first.response is not None
    assert first.response["system_fingerprint"] == "fp_1"
    assert traffic.records[1].request["response_format"] == SCHEMA
    assert traffic.credentials_removed == 2  # the Authorization header and the key pasted in a message
    assert CANARY not in json.dumps([r.request for r in traffic.records] + [r.response for r in traffic.records])


def test_batch_input_joined_with_its_output(tmp_path: Path) -> None:
    inputs = _write(tmp_path / "in.jsonl", [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "gpt-4o", "messages": CONVERSATION[:2]}} for i in range(3)])
    outputs = _write(tmp_path / "out.jsonl", [
        {"custom_id": f"r{i}", "response": {"status_code": 200, "body": ANSWER}} for i in (2, 0)])
    traffic = read_traffic(inputs, outputs)
    assert traffic.shape == "batch"
    assert [(r.custom_id, r.response is not None) for r in traffic.records] == [
        ("r0", True), ("r1", False), ("r2", True)]


def test_plain_lines_with_references(tmp_path: Path) -> None:
    traffic = read_traffic(_write(tmp_path / "plain.jsonl", [
        {"messages": CONVERSATION, "tools": TOOLS, "reference": "Bergen"},
        {"messages": [{"role": "user", "content": "Name a city."}], "response_format": SCHEMA},
    ]))
    assert traffic.shape == "plain" and traffic.records[0].reference == "Bergen"
    assert traffic.records[0].response is None


def _bad(tmp_path: Path, kind: str) -> tuple[Path, Path | None]:
    path, output = tmp_path / "t.jsonl", None
    ok = {"messages": [{"role": "user", "content": "hi"}]}
    cases: dict[str, bytes | list[object]] = {
        "bad JSON": b'{"messages": [\n',
        "not an object": [[1, 2]],
        "unknown shape": [{"prompt": "hi"}],
        "no messages": [{"messages": []}],
        "unknown role": [{"messages": [{"role": "robot", "content": "hi"}]}],
        "content not text": [{"messages": [{"role": "user", "content": {"x": 1}}]}],
        "tool result without its call": [{"messages": [{"role": "user", "content": "hi"},
                                                       {"role": "tool", "tool_call_id": "zz", "content": "3"}]}],
        "arguments not JSON": [{"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{city: Oslo"}}]}]}],
        "tool without a name": [{"messages": ok["messages"], "tools": [{"type": "function", "function": {}}]}],
        "bad response_format": [{"messages": ok["messages"], "response_format": {"type": "xml"}}],
        "mixed shapes": [ok, {"request": ok}],
        "log response without choices": [{"request": ok, "response": {"choices": []}}],
        "batch output for no input": "batch",
        "batch output answering an id twice": "batch twice",
        "tools reference a number": [{"messages": ok["messages"], "tools": TOOLS, "reference": 42}],
        "tools reference call without a name": [{"messages": ok["messages"], "tools": TOOLS,
                                                 "reference": [{"arguments": {"city": "Oslo"}}]}],
        "tools reference arguments not an object": [{"messages": ok["messages"], "tools": TOOLS,
                                                     "reference": [{"name": "get_weather", "arguments": [1]}]}],
        "tools reference object without calls": [{"messages": ok["messages"], "tools": TOOLS,
                                                  "reference": {"name": "get_weather"}}],
        "json reference outside its schema": [{"messages": ok["messages"], "response_format": SCHEMA,
                                               "reference": {"town": "Oslo"}}],
        "json_object reference not an object": [{"messages": ok["messages"],
                                                 "response_format": {"type": "json_object"}, "reference": "Oslo"}],
        "text reference not text": [{"messages": ok["messages"], "reference": ["Oslo"]}],
        "non-UTF-8": b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n',
        "empty file": b"",
        "a 10 MB line": b'{"messages": [{"role": "user", "content": "' + b"x" * (10 * 1024 * 1024) + b'"}]}\n',
    }
    case = cases[kind]
    if case in ("batch", "batch twice"):
        _write(path, [{"custom_id": "a", "url": "/v1/chat/completions", "body": ok}])
        answered = ["a", "a"] if case == "batch twice" else ["b"]
        output = _write(tmp_path / "out.jsonl", [{"custom_id": i, "response": {"status_code": 200, "body": ANSWER}}
                                                 for i in answered])
    elif isinstance(case, bytes):
        path.write_bytes(case)
    else:
        _write(path, case if kind in ("mixed shapes", "log response without choices") else [ok, *case])
    return path, output


EXPECTED = {
    "bad JSON": r"line 1 is not JSON", "not an object": r"line 2 is not a JSON object",
    "unknown shape": r"line 2 is neither", "no messages": r"line 2: the request has no messages",
    "unknown role": r"line 2: messages\[0\] has unknown role 'robot'",
    "content not text": r"line 2: messages\[0\].content must be text",
    "tool result without its call": r"line 2: messages\[1\] is a tool result for 'zz'",
    "arguments not JSON": r"line 2: messages\[0\].tool_calls\[0\].function.arguments is not JSON",
    "tool without a name": r"line 2: tools\[0\] is not a function", "bad response_format": r"line 2: response_format",
    "mixed shapes": r"line 2 is a log line in a file of plain lines",
    "log response without choices": r"line 1: the response has no choices\[0\].message",
    "batch output for no input": r"out.jsonl: line 1 answers custom_id 'b'",
    "batch output answering an id twice": r"out.jsonl: line 2 answers custom_id 'a' again",
    "tools reference a number": r"line 2: a reference for a tools request must be a list of \{name, arguments\} calls",
    "tools reference call without a name": r"line 2: a reference for a tools request: each call needs a name",
    "tools reference arguments not an object": r"line 2: .*the arguments of 'get_weather' must be an object",
    "tools reference object without calls": r"line 2: a reference for a tools request must be a list",
    "json reference outside its schema": r"line 2: a reference for a JSON request must fit its schema \('city'",
    "json_object reference not an object": r"line 2: a reference for a JSON request must fit its schema",
    "text reference not text": r"line 2: a reference for a text request must be text",
    "non-UTF-8": r"line 1 is not UTF-8 text \(byte 0xe9", "empty file": r"holds no records",
    "a 10 MB line": rf"line 1 is 10,485,\d+ bytes, over the {MAX_LINE_BYTES:,}-byte limit",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_malformed_traffic_names_its_line(tmp_path: Path, kind: str) -> None:
    path, output = _bad(tmp_path, kind)
    with pytest.raises(HarnessError, match=EXPECTED[kind]) as caught:
        read_traffic(path, output)
    assert "\n" not in str(caught.value)


def test_the_matrix_is_broad() -> None:
    assert len(EXPECTED) >= 12


FUNCTIONS = [TOOLS[0]["function"]]
LEGACY_CALL = {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}


def test_legacy_function_calling_becomes_tools_and_tool_calls(tmp_path: Path) -> None:
    """`functions`/`function_call` requests, `function` turns and a `function_call` answer read as the
    tools, tool_choice, tool calls and tool results they are (nothing decisive dropped)."""
    messages = [{"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": None, "function_call": LEGACY_CALL},
                {"role": "function", "name": "get_weather", "content": "{\"temp_c\": 3}"},
                {"role": "user", "content": "And tomorrow?"}]
    answer = {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "function_call", "message": {
        "role": "assistant", "content": None, "function_call": LEGACY_CALL}}]}
    traffic = read_traffic(_write(tmp_path / "legacy.jsonl", [
        {"request": {"messages": messages, "functions": FUNCTIONS, "function_call": {"name": "get_weather"}},
         "response": answer},
        {"request": {"messages": messages[:1], "functions": FUNCTIONS, "function_call": "none"}, "response": ANSWER},
    ]))
    first, second = traffic.records
    assert first.request["tools"] == TOOLS and "functions" not in first.request
    assert first.request["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    turns = first.request["messages"]
    assert turns[1]["tool_calls"] == [{"id": "call_legacy_1", "type": "function", "function": LEGACY_CALL}]
    assert turns[2] == {"role": "tool", "tool_call_id": "call_legacy_1", "content": "{\"temp_c\": 3}"}
    assert first.response is not None
    message = first.response["choices"][0]
    assert message["finish_reason"] == "tool_calls" and message["message"]["tool_calls"][0]["function"] == LEGACY_CALL
    assert second.request["tool_choice"] == "none" and second.request["tools"] == TOOLS


@pytest.mark.parametrize(("request_body", "pattern"), [
    ({"messages": [{"role": "user", "content": "hi"}], "functions": FUNCTIONS, "tools": TOOLS},
     r"the request has both functions and tools"),
    ({"messages": [{"role": "user", "content": "hi"}], "functions": FUNCTIONS, "function_call": "always"},
     r"function_call must be"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "function", "name": "f", "content": "1"}]},
     r"messages\[1\] is a function result for 'f', which no earlier assistant turn called"),
])
def test_malformed_legacy_requests_name_their_line(tmp_path: Path, request_body: dict, pattern: str) -> None:
    with pytest.raises(HarnessError, match=rf"line 1: {pattern}"):
        read_traffic(_write(tmp_path / "t.jsonl", [{"request": request_body}]))


def test_when_each_request_was_sent(tmp_path: Path) -> None:
    """A log line's own `timestamp` (ISO 8601 or Unix seconds or milliseconds), else its answer's `created`."""
    request = {"messages": [{"role": "user", "content": "hi"}]}
    traffic = read_traffic(_write(tmp_path / "log.jsonl", [
        {"request": request, "response": {**ANSWER, "created": 1764800000}, "timestamp": "2026-12-01T10:00:00Z"},
        {"request": request, "response": {**ANSWER, "created": 1764800000}},
        {"request": request, "response": ANSWER, "timestamp": 1764800060123},
        {"request": request, "response": {**ANSWER, "created": 0}},
    ]))
    first = datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()
    assert [r.at for r in traffic.records] == [first, 1764800000.0, 1764800060.123, None]
    with pytest.raises(HarnessError, match=r"line 2: timestamp 'yesterday' is not an ISO 8601 time"):
        read_traffic(_write(tmp_path / "bad.jsonl", [
            {"request": request, "response": ANSWER},
            {"request": request, "response": ANSWER, "timestamp": "yesterday"}]))
