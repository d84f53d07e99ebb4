"""Telemetry as traffic: OpenTelemetry GenAI spans (OTLP JSON) and LiteLLM standard logging payloads
read as chat requests and answers, every line checked with its line number (and span), what is not a
chat call and failed calls skipped and counted, credentials removed from what is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.traffic.read import read_traffic
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "traffic"
CANARY = "sk-canary0123456789abcdefghijklmnop"
SPANS = [json.loads(line) for line in (DATA / "otel_genai.jsonl").read_text().splitlines()]
PAYLOADS = [json.loads(line) for line in (DATA / "litellm.jsonl").read_text().splitlines()]


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _chat_span(**attributes: Any) -> dict[str, Any]:
    """An export line holding one chat span with these attributes (OTLP values as given)."""
    values = {"gen_ai.operation.name": {"stringValue": "chat"},
              "gen_ai.input.messages": {"stringValue": json.dumps([
                  {"role": "user", "parts": [{"type": "text", "content": "hi"}]}])}}
    values.update({name.replace("__", "."): value for name, value in attributes.items()})
    span = {"name": "chat m", "startTimeUnixNano": "1764800001000000000",
            "attributes": [{"key": k, "value": v} for k, v in values.items() if v is not None]}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def _text(value: Any) -> dict[str, str]:
    return {"stringValue": json.dumps(value)}


def test_otel_chat_spans_become_requests_and_answers() -> None:
    traffic = read_traffic(DATA / "otel_genai.jsonl")
    assert traffic.shape == "otel" and len(traffic.records) == 5 and traffic.credentials_removed == 0
    assert traffic.notes == ["4 span(s) skipped that are not chat calls (execute_tool 2, invoke_agent 1, not GenAI 1)",
                             "1 failed chat call(s) skipped: a failed call is not an answer"]
    first, calls, results, structured, retried = traffic.records
    assert first.place == "line 1 (resourceSpans[0].scopeSpans[0].spans[0])" and first.at == 1764800001.0
    assert [m["role"] for m in first.request["messages"]] == ["system", "user", "assistant", "user"]
    assert first.request["temperature"] == 0.0 and first.request["model"] == "gpt-4o"
    assert first.response is not None and first.response["usage"] == {
        "prompt_tokens": 41, "completion_tokens": 9, "total_tokens": 50}
    assert calls.request["tools"][0]["function"]["name"] == "get_weather"
    assert calls.response is not None and calls.response["choices"][0]["finish_reason"] == "tool_calls"
    made = calls.response["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["arguments"] for c in made] == ['{"city": "Oslo"}', '{"city": "Bergen"}']
    turns = results.request["messages"]
    assert [m["role"] for m in turns] == ["system", "user", "assistant", "tool", "tool"]
    assert turns[3] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": -4, "sky": "snow"}'}
    assert structured.request["response_format"] == {"type": "json_object"} and structured.request["max_tokens"] == 64
    assert retried.request["seed"] == 7 and retried.place.startswith("line 4 ")


def test_litellm_payloads_become_requests_and_answers() -> None:
    traffic = read_traffic(DATA / "litellm.jsonl")
    assert traffic.shape == "litellm" and [r.line for r in traffic.records] == [1, 2, 3, 4, 7]
    assert traffic.notes == ["1 line(s) skipped that are not chat calls (aembedding 1)",
                             "1 failed chat call(s) skipped: a failed call is not an answer"]
    # The virtual key's hash and alias, team and user ids are dropped unread: not counted as credentials.
    assert traffic.credentials_removed == 0
    assert "support-bot" not in json.dumps([(r.request, r.response) for r in traffic.records])
    first, calls, results, schema, hello = traffic.records
    assert first.at == 1764800001.0 and first.request["temperature"] == 0 and first.request["model"] == "gpt-4o"
    assert calls.request["tool_choice"] == "auto" and calls.request["parallel_tool_calls"] is True
    assert [m["role"] for m in results.request["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert schema.request["response_format"]["json_schema"]["name"] == "capital"
    assert "stream" not in hello.request and hello.response is not None  # delivery, not the answer
    assert hello.response["system_fingerprint"] == "fp_7f6be3efb0"


def test_credentials_in_telemetry_never_reach_a_record(tmp_path: Path) -> None:
    """A key in a message (inside JSON text, after "Bearer": the text must stay JSON), in a header
    attribute the import does not read, and in LiteLLM's parameters and metadata."""
    span = _chat_span(gen_ai__input__messages=_text([{"role": "user", "parts": [
        {"type": "text", "content": f"use Bearer {CANARY}"}]}]),
        http__request__header__authorization={"arrayValue": {"values": [{"stringValue": f"Bearer {CANARY}"}]}})
    otel = read_traffic(_write(tmp_path / "otel.jsonl", [span]))
    assert otel.credentials_removed == 1 and CANARY not in json.dumps(otel.records[0].request)
    payload = json.loads(json.dumps(PAYLOADS[0]))
    payload["model_parameters"]["api_key"] = CANARY
    payload["metadata"]["requester_custom_headers"] = {"x-api-key": CANARY}
    payload["messages"][1]["content"] += f" (key {CANARY})"
    litellm = read_traffic(_write(tmp_path / "litellm.jsonl", [payload]))
    assert litellm.credentials_removed == 2
    assert CANARY not in json.dumps([litellm.records[0].request, litellm.records[0].response])


def test_otel_calls_without_ids_pair_in_order(tmp_path: Path) -> None:
    """Instrumentations of APIs without call ids: a call gets one from its position, and a result
    without one answers the oldest call not yet answered."""
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo and Bergen?"}]},
                {"role": "assistant", "parts": [
                    {"type": "reasoning", "content": "two cities"},
                    {"type": "tool_call", "name": "get_weather", "arguments": {"city": "Oslo"}},
                    {"type": "tool_call", "name": "get_weather", "arguments": {"city": "Bergen"}}]},
                {"role": "user", "parts": [{"type": "tool_call_response", "response": "3 C"},
                                           {"type": "tool_call_response", "result": "5 C"}]}]
    tools = [{"type": "function", "name": "get_weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    traffic = read_traffic(_write(tmp_path / "t.jsonl", [_chat_span(
        gen_ai__input__messages=_text(messages), gen_ai__tool__definitions=_text(tools))]))
    turns = traffic.records[0].request["messages"]
    assert [c["id"] for c in turns[1]["tool_calls"]] == ["call_1_0", "call_1_1"]
    assert [(t["tool_call_id"], t["content"]) for t in turns[2:]] == [("call_1_0", "3 C"), ("call_1_1", "5 C")]


def test_a_file_of_nothing_but_skipped_calls_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"holds no chat calls to import \(1 failed chat call"):
        read_traffic(_write(tmp_path / "t.jsonl", [PAYLOADS[5]]))


GOOD = _chat_span()
TOOL = [{"type": "function", "name": "get_weather"}]
CALLED = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather",
                                           "arguments": {"city": "Oslo"}}], "finish_reason": "tool_call"}]
WHERE = r"line 2 \(resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\)"
OTEL_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "an integer setting as text": (_chat_span(gen_ai__request__max_tokens={"stringValue": "100"}),
                                   rf"{WHERE}: gen_ai\.request\.max_tokens must be an integer, not \"100\""),
    "a malformed intValue": (_chat_span(gen_ai__request__seed={"intValue": "seven"}),
                             rf"{WHERE}: attribute 'gen_ai\.request\.seed' has a malformed intValue"),
    "two value types in one": (_chat_span(gen_ai__request__top_p={"doubleValue": 1.0, "intValue": "1"}),
                               rf"{WHERE}: attribute 'gen_ai\.request\.top_p' is not an OTLP value"),
    "a temperature that is not a number": (_chat_span(gen_ai__request__temperature={"boolValue": True}),
                                           rf"{WHERE}: gen_ai\.request\.temperature must be a number"),
    "a chat span without messages": (_chat_span(gen_ai__input__messages=None),
                                     rf"{WHERE}: the chat span has no gen_ai\.input\.messages"),
    "messages that are not JSON": (_chat_span(gen_ai__input__messages={"stringValue": "[{\"role\": "}),
                                   rf"{WHERE}: gen_ai\.input\.messages is not JSON"),
    "a message without parts": (_chat_span(gen_ai__input__messages=_text([{"role": "user", "content": "hi"}])),
                                rf"{WHERE}: gen_ai\.input\.messages\[0\] has no parts"),
    "an image part": (_chat_span(gen_ai__input__messages=_text([{"role": "user", "parts": [
        {"type": "uri", "modality": "image", "uri": "https://example.com/a.png"}]}])),
        rf"{WHERE}: gen_ai\.input\.messages\[0\]\.parts\[0\] is a 'uri' part"),
    "a tool result for no call": (_chat_span(gen_ai__input__messages=_text([{"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "zz", "response": "3"}]}])),
        rf"{WHERE}: messages\[0\] is a tool result for 'zz'"),
    "a tool without its schema": (_chat_span(gen_ai__tool__definitions=_text(TOOL),
                                             gen_ai__output__messages=_text(CALLED)),
                                  rf"{WHERE}: gen_ai\.tool\.definitions: 'get_weather' has no parameters"),
    "an image answer": (_chat_span(gen_ai__output__type={"stringValue": "image"}),
                        rf"{WHERE}: gen_ai\.output\.type 'image' asks for other than text or JSON"),
    "a start that is not nanoseconds": ({"resourceSpans": [{"scopeSpans": [{"spans": [
        {**GOOD["resourceSpans"][0]["scopeSpans"][0]["spans"][0], "startTimeUnixNano": "yesterday"}]}]}]},
        rf"{WHERE}: startTimeUnixNano is not a count of nanoseconds"),
    "spans that are not a list": ({"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]},
                                  r"line 2: resourceSpans\[0\]\.scopeSpans\[0\]\.spans must be a list"),
}


@pytest.mark.parametrize("kind", list(OTEL_CASES))
def test_malformed_spans_name_their_line_and_span(tmp_path: Path, kind: str) -> None:
    line, pattern = OTEL_CASES[kind]
    with pytest.raises(HarnessError, match=pattern) as caught:
        read_traffic(_write(tmp_path / "t.jsonl", [GOOD, line]))
    assert "\n" not in str(caught.value)


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(json.dumps(PAYLOADS[0]))
    payload.update(changes)
    return payload


ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}
LITELLM_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "redacted messages": (_payload(messages=[{"role": "user", "content": "redacted-by-litellm"}]),
                          r"line 2: LiteLLM redacted this call's messages \(turn_off_message_logging\)"),
    "an unknown status": (_payload(status="pending"), r"line 2: status 'pending' is neither success nor failure"),
    "parameters that are not an object": (_payload(model_parameters=[1]),
                                          r"line 2: model_parameters must be an object"),
    "another provider's tool shape": (_payload(model_parameters={"tools": [ANTHROPIC_TOOL]}),
                                      r"line 2: tools\[0\] is not a function with a name"),
    "no messages": (_payload(messages=None), r"line 2: the request has no messages"),
    "a response without choices": (_payload(response={"id": "x", "choices": []}),
                                   r"line 2: the response has no choices\[0\]\.message"),
    "a start that is no time": (_payload(startTime="soon"), r"line 2: timestamp 'soon' is not an ISO 8601 time"),
}


@pytest.mark.parametrize("kind", list(LITELLM_CASES))
def test_malformed_litellm_lines_name_their_line(tmp_path: Path, kind: str) -> None:
    line, pattern = LITELLM_CASES[kind]
    with pytest.raises(HarnessError, match=pattern) as caught:
        read_traffic(_write(tmp_path / "t.jsonl", [PAYLOADS[0], line]))
    assert "\n" not in str(caught.value)


def test_shapes_do_not_mix(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"line 2 is a litellm line in a file of otel lines"):
        read_traffic(_write(tmp_path / "t.jsonl", [GOOD, PAYLOADS[0]]))
