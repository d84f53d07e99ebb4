"""Scoring replayed traffic without gold answers, redaction, and tool calls on local models: the
pieces, on hand-checked cases (the end-to-end runs are in test_traffic.py)."""

from __future__ import annotations

import json

import pytest

from harness.providers.base import GenRequest, GenResult, Message, ToolCall, canonical_json
from harness.providers.hf.tools import chat_for_template, parse_tool_calls
from harness.run.replay import Answer, request_from_body
from harness.traffic.redact import redact_text
from harness.traffic.score import score_doc
from harness.traffic.toolmatch import compare_calls, parse_calls, values_equal

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "default": "c"}},
    "required": ["city"]}}}]


def _calls(*pairs: tuple[str, dict]) -> list:
    return parse_calls([{"name": name, "arguments": json.dumps(args)} for name, args in pairs])


def test_values_compare_type_leniently() -> None:
    assert values_equal(3, 3.0) and not values_equal(3, 3.5) and not values_equal(True, 1)
    assert values_equal("New York, NY", "new york ny") and not values_equal("Oslo", "Bergen")
    assert values_equal([1, "a"], [1.0, "A"]) and not values_equal([1, 2], [2, 1])
    assert values_equal({"a": [1]}, {"a": [1.0]}) and not values_equal({"a": 1}, {"a": 1, "b": 2})


def test_calls_against_the_incumbent_s() -> None:
    oslo, bergen = ("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Bergen"})
    same = compare_calls(_calls(oslo, bergen), _calls(bergen, ("get_weather", {"city": "oslo", "unit": "c"})), WEATHER)
    assert same.match and same.names and same.f1 == 1.0  # order, case and a default-valued optional ignored
    half = compare_calls(_calls(oslo, bergen), _calls(oslo), WEATHER)
    assert not half.match and not half.names and half.f1 == pytest.approx(2 / 3)
    other_unit = compare_calls(_calls(oslo), _calls(("get_weather", {"city": "Oslo", "unit": "f"})), WEATHER)
    assert not other_unit.match and other_unit.names
    spurious = compare_calls([], _calls(oslo), WEATHER)
    assert spurious.spurious and not spurious.missed and spurious.f1 == 0
    missed = compare_calls(_calls(oslo), [], WEATHER)
    assert missed.missed and not missed.match
    broken = parse_calls([{"name": "get_weather", "arguments": "{city: Oslo"}])
    assert broken[0].arguments is None and not compare_calls(_calls(oslo), broken, WEATHER).match


def _doc(kind: str, request: dict, expected: dict | None) -> dict:
    return {"kind": kind, "request": json.dumps(request), "expected": json.dumps(expected) if expected else None}


def _answer(text: str = "", calls: tuple[ToolCall, ...] = (), error: str | None = None) -> Answer:
    return Answer(GenResult(key="k", text=text, tool_calls=calls, error=error))


def test_tool_scores() -> None:
    request = {"messages": [{"role": "user", "content": "Oslo?"}], "tools": WEATHER}
    expected = {"content": None, "tool_calls": [{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]}
    doc = _doc("tools", request, expected)
    right = score_doc(doc, _answer(calls=(ToolCall("get_weather", '{"city": "OSLO"}'),)))
    assert right == {"tool_match": 1.0, "tool_names": 1.0, "tool_f1": 1.0, "spurious_call": 0.0, "missed_call": 0.0,
                     "tool_valid": 1.0}
    invalid = score_doc(doc, _answer(calls=(ToolCall("get_weather", '{"town": "Oslo"}'),)))
    assert invalid["tool_match"] == 0 and invalid["tool_names"] == 1 and invalid["tool_valid"] == 0
    text_only = score_doc(doc, _answer("It is cold."))
    assert text_only["missed_call"] == 1 and text_only["tool_match"] == 0
    # An answer that is an error never scores, even where "no call" would have matched.
    no_call_expected = _doc("tools", request, {"content": "Hi", "tool_calls": []})
    assert score_doc(no_call_expected, _answer())["tool_match"] == 1.0
    assert score_doc(no_call_expected, _answer(error="unsupported: tools"))["tool_match"] == 0.0


def test_json_scores() -> None:
    schema = {"type": "object", "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
              "required": ["country", "capital"]}
    request = {"messages": [{"role": "user", "content": "Japan?"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}}
    doc = _doc("json", request, {"content": '{"country": "Japan", "capital": "Tokyo"}', "tool_calls": []})
    assert score_doc(doc, _answer('{"capital": "tokyo", "country": "Japan"}')) == {
        "json_match": 1.0, "json_valid": 1.0, "schema_valid": 1.0, "field_agreement": 1.0}
    half = score_doc(doc, _answer('{"country": "Japan", "capital": "Kyoto"}'))
    assert half["json_match"] == 0.5 and half["schema_valid"] == 1
    missing = score_doc(doc, _answer('{"country": "Japan"}'))
    assert missing["json_valid"] == 1 and missing["schema_valid"] == 0 and missing["json_match"] == 0
    fenced = score_doc(doc, _answer('```json\n{"country": "Japan", "capital": "Tokyo"}\n```'))
    assert fenced["json_valid"] == 0  # what a client's json.loads would refuse is not JSON
    no_expected = _doc("json", {**request, "response_format": {"type": "json_object"}}, None)
    assert score_doc(no_expected, _answer('{"a": 1}'))["json_match"] == 1.0
    assert score_doc(no_expected, _answer("[1]"))["schema_valid"] == 0.0  # json_object means an object


def test_text_scores() -> None:
    doc = _doc("text", {"messages": [{"role": "user", "content": "Hi"}]}, {"content": "Bonjour.", "tool_calls": []})
    assert score_doc(doc, _answer("bonjour")) == {"similarity": 1.0, "exact": 1.0}
    partly = score_doc(doc, _answer("Bonjour, ça va ?"))
    assert 0 < partly["similarity"] < 1 and partly["exact"] == 0
    assert score_doc(_doc("text", {"messages": [{"role": "user", "content": "Hi"}]}, None), _answer("x")) == {
        "similarity": 1.0, "exact": 1.0}  # validity alone: an answer was given


@pytest.mark.parametrize(("text", "masked", "count"), [
    ("write to jane.doe@example.co.uk today", "write to [email] today", 1),
    ("card 4111 1111 1111 1111, exp 12/29", "card [card], exp 12/29", 1),
    ("card 4111-1111-1111-1112 fails Luhn", "card 4111-1111-1111-1112 fails Luhn", 0),
    ("call +44 20 7946 0958 or (555) 123-4567", "call [phone] or [phone]", 2),
    ("on 2024-01-05 12:30 we sold 42 of 365", "on 2024-01-05 12:30 we sold 42 of 365", 0),
])
def test_redaction_patterns(text: str, masked: str, count: int) -> None:
    assert redact_text(text) == (masked, count)


def test_tool_calls_are_read_in_each_family_s_format() -> None:
    hermes = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    assert parse_tool_calls(hermes) == ("Sure.", (ToolCall("get_weather", '{"city": "Oslo"}'),))
    two = "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"name\": \"b\", \"arguments\": {}}"
    assert [c.name for c in parse_tool_calls(two)[1]] == ["a", "b"]  # the last tag may be left open
    mistral = '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Bergen"}}]'
    assert parse_tool_calls(mistral) == ("", (ToolCall("get_weather", '{"city": "Bergen"}'),))
    llama = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}'
    assert parse_tool_calls(llama) == ("", (ToolCall("get_weather", '{"city": "Oslo"}'),))
    for plain in ('{"city": "Oslo"}', "<tool_call>{not json}</tool_call>", "It is cold in Oslo."):
        assert parse_tool_calls(plain) == (plain, ())  # no call is invented


def test_tools_reach_a_template_without_tool_support_in_the_fallback_format() -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Oslo?"},
                         {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                          "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
                         {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 3}'}],
            "tools": WEATHER, "tool_choice": "required"}
    request = request_from_body(body, max_tokens=64)
    messages, tools = chat_for_template(request, knows_tools=False)
    assert tools is None and [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"].startswith("Be brief.\n\nYou may call one or more functions")
    assert '"name": "get_weather"' in messages[0]["content"] and "You must call at least one function." in \
        messages[0]["content"]
    assert messages[2]["content"] == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    assert messages[3]["content"] == '<tool_response>\n{"temp_c": 3}\n</tool_response>'
    native, native_tools = chat_for_template(request, knows_tools=True)
    assert native_tools == WEATHER and native[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
    none = request_from_body({**body, "tool_choice": "none"}, max_tokens=64)
    assert chat_for_template(none, knows_tools=True)[1] is None


def test_plain_chat_renders_as_before() -> None:
    request = GenRequest(messages=(Message("system", "S"), Message("user", "U")), max_tokens=8)
    assert chat_for_template(request, knows_tools=False) == (request.message_dicts, None)
    formatted = GenRequest(messages=(Message("user", "U"),), max_tokens=8,
                           response_format=canonical_json({"type": "json_object"}))
    messages, _ = chat_for_template(formatted, knows_tools=False)
    assert messages[0] == {"role": "system", "content": "Answer with one JSON object and nothing else."}
