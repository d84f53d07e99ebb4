"""The request surface that decides an answer travels through the provider contract: tools,
tool_choice, response_format and tool-call turns reach the API as it defines them, tool calls come
back and are stored and cached, and a feature a provider lacks is answered `unsupported`, never
stripped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config.profiles import FakeSettings
from harness.digest import sha256_hex
from harness.providers.base import GenRequest, GenResult, Message, ToolCall, canonical_json
from harness.providers.fake import FakeProvider
from harness.run.error_tally import tally
from harness.run.feature_guard import FeatureGuard
from harness.run.reuse import CachePolicy, Identity, ReusingProvider
from harness.store import Store
from harness.store.writes import GenerationWriter
from tests.servers import ScriptedServer
from tests.test_openai_provider import make_provider

WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True,
          "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}


def _conversation() -> tuple[Message, ...]:
    return (
        Message("system", "You are a travel assistant."),
        Message("user", "Weather in Oslo?"),
        Message("assistant", "", tool_calls=(ToolCall("get_weather", '{"city": "Oslo"}', id="call_0"),)),
        Message("tool", '{"temp_c": 3}', tool_call_id="call_0"),
        Message("user", "And in Bergen?"),
    )


def test_plain_request_keys_are_unchanged() -> None:
    """Keys (and so the response cache) of text-only requests are what they were before."""
    request = GenRequest(messages=(Message("user", "2+2="),), max_tokens=4, stop=("\n",), seed=1)
    before = json.dumps({"messages": [{"content": "2+2=", "role": "user"}], "prompt": None, "max_tokens": 4,
                         "stop": ["\n"], "temperature": 0.0, "seed": 1}, sort_keys=True, ensure_ascii=False)
    assert request.key() == sha256_hex(before, 32)


def test_every_part_of_the_surface_changes_the_key() -> None:
    base = GenRequest(messages=_conversation(), max_tokens=32)
    variants = [
        GenRequest(messages=_conversation(), max_tokens=32, tools=canonical_json(WEATHER)),
        GenRequest(messages=_conversation(), max_tokens=32, tools=canonical_json(WEATHER), tool_choice='"required"'),
        GenRequest(messages=_conversation(), max_tokens=32, response_format=canonical_json(SCHEMA)),
        GenRequest(messages=_conversation()[:2], max_tokens=32),
    ]
    assert len({base.key(), *(v.key() for v in variants)}) == 5
    assert base.needs() == {"tools", "system_prompt"}
    assert variants[2].needs() == {"tools", "system_prompt", "json_schema"}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


def test_the_api_receives_the_surface_and_tool_calls_come_back(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url)
    request = GenRequest(messages=_conversation(), max_tokens=32, tools=canonical_json(WEATHER),
                         tool_choice='"auto"', response_format=canonical_json({"type": "json_object"}))
    [result] = list(provider.generate([request]))
    assert result.error is None, result.error
    body = server.bodies[-1]
    assert body["tools"] == WEATHER and body["tool_choice"] == "auto"
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][2] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}
    assert body["messages"][3] == {"role": "tool", "content": '{"temp_c": 3}', "tool_call_id": "call_0"}
    assert result.finish_reason == "tool_calls" and result.text == ""
    assert [(c.name, c.parsed_arguments(), c.id) for c in result.tool_calls] == [
        ("get_weather", {"text": "d in Bergen?"}, "call_1")]


def test_tool_calls_are_stored_and_served_from_the_cache(server: ScriptedServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "h.duckdb")
    request = GenRequest(messages=_conversation(), max_tokens=32, tools=canonical_json(WEATHER))
    results = []
    for _ in range(2):
        writer = GenerationWriter(store)
        reusing = ReusingProvider(make_provider(server.base_url), store, writer,
                                  Identity("scripted", "hash", None, "run"), CachePolicy())
        results += list(reusing.generate([request]))
        writer.flush()
    first, second = results
    assert second.reused == "cache" and len(server.bodies) == 1
    assert second.tool_calls == first.tool_calls and first.tool_calls


def test_a_missing_feature_is_answered_unsupported_and_never_sent() -> None:
    fake = FakeProvider("fake", FakeSettings())
    guard = FeatureGuard(fake, {"system_prompt": False})
    plain = GenRequest(messages=(Message("user", "hi"),), max_tokens=4)
    with_tools = GenRequest(messages=(Message("user", "hi"),), max_tokens=4, tools=canonical_json(WEATHER))
    with_system = GenRequest(messages=(Message("system", "Be brief."), Message("user", "hi")), max_tokens=4)
    by_key = {r.key: r for r in guard.generate([plain, with_tools, with_system])}
    assert by_key[with_tools.key()].error == "unsupported: tools"  # the fake kind lacks tools
    assert by_key[with_system.key()].error == "unsupported: system_prompt"  # declared absent
    assert by_key[plain.key()].error is None
    assert fake.calls == 1  # only the plain request reached the provider


def test_unsupported_answers_do_not_fail_the_run() -> None:
    results = [GenResult(key=str(i), text="", error="unsupported: tools") for i in range(9)]
    results.append(GenResult(key="x", text="", error="HTTP 500: boom"))
    counted = tally(results)
    assert (counted.n, counted.errors, counted.commonest) == (10, 1, "HTTP 500: boom")
