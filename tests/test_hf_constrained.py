"""Constrained decoding on the real embedded model: JSON formats and required tool calls held by a grammar
in the rowwise decoder and on the `generate` path; with the setting off, answers say they were not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.schema_set import OWN, schema_set
from harness.config.profiles import Profile, load_profile
from harness.data.packs import pull
from harness.providers.base import GenRequest, GenResult, Message
from harness.providers.hf.provider import HFProvider
from tests.checks import query
from tests.conftest import ROOT, run_harness

pytestmark = pytest.mark.slow

ASK = "Give one example that fits, with plausible values."
WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
TIME: dict[str, Any] = {"type": "function", "function": {
    "name": "get_time", "description": "Local time in a time zone.",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
                   "required": ["zone"], "additionalProperties": False}}}


def _profile(**hf: object) -> Profile:
    profile = load_profile("smollm2")
    assert profile.hf is not None
    return profile.model_copy(update={"hf": profile.hf.model_copy(update=hf)})


@pytest.fixture(scope="module")
def provider() -> HFProvider:
    return HFProvider(_profile(batch_size=8))


def _json_request(schema: dict[str, Any], max_tokens: int = 160) -> GenRequest:
    response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return GenRequest(messages=(Message("user", ASK),), max_tokens=max_tokens,
                      response_format=json.dumps(response_format))


def _tool_request(question: str, choice: Any, tools: list[dict[str, Any]], max_tokens: int = 96) -> GenRequest:
    return GenRequest(messages=(Message("user", question),), max_tokens=max_tokens, tools=json.dumps(tools),
                      tool_choice=json.dumps(choice))


def _valid(schema: dict[str, Any], value: Any) -> bool:
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    return bool(validator.is_valid(value))


def _by_key(provider: HFProvider, requests: list[GenRequest]) -> dict[str, GenResult]:
    return {result.key: result for result in provider.generate(requests)}


def test_every_schema_of_the_set_is_answered_valid(provider: HFProvider) -> None:
    pull("bfcl_simple")
    pull("bfcl_multiple")
    schemas = schema_set()
    assert len(schemas) >= 40
    requests = {name: _json_request(schema) for name, schema in schemas.items()}
    results = _by_key(provider, list(requests.values()))
    bad = {}
    for name, request in requests.items():
        result = results[request.key()]
        assert result.json_decoding == "constrained:xgrammar", name
        try:
            ok = _valid(schemas[name], json.loads(result.text))
        except ValueError:
            ok = False
        if not ok:
            bad[name] = (result.finish_reason, result.text[:200])
    # The grammar bounds the shape, not a string's length: a 135M model can repeat inside a string until
    # max_tokens (a served model would too). Such an answer is cut ("length"), never wrong-shaped.
    assert {name: why for name, (why, _) in bad.items() if why != "length"} == {}, bad
    assert len(bad) <= len(schemas) // 10, bad


def test_required_and_named_calls_name_an_offered_function_with_valid_arguments(provider: HFProvider) -> None:
    tools = [WEATHER, TIME]
    requests = [_tool_request("What is the weather in Oslo?", "required", tools),
                _tool_request("Hello! How are you?", "required", tools),
                _tool_request("What is the weather in Oslo?", {"type": "function", "function": {"name": "get_time"}},
                              tools)]
    results = _by_key(provider, requests)
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    for request in requests:
        result = results[request.key()]
        assert result.json_decoding == "constrained:xgrammar"
        assert result.finish_reason == "tool_calls" and len(result.tool_calls) == 1, result.text
        call = result.tool_calls[0]
        assert call.name in schemas and _valid(schemas[call.name], json.loads(call.arguments))
    named = results[requests[2].key()].tool_calls[0]
    assert named.name == "get_time"


def test_auto_leaves_the_choice_to_the_model(provider: HFProvider) -> None:
    result = next(provider.generate([_tool_request("Hello! How are you?", "auto", [WEATHER], 16)]))
    assert result.json_decoding is None and result.error is None


def test_the_generate_path_holds_the_same_grammars() -> None:
    provider = HFProvider(_profile(batch_size=4))
    provider.decoder = None  # what a GPU or an unsupported model runs
    schema = OWN["bounded_numbers"]
    requests = [_json_request(schema, 48), _json_request(OWN["pattern"], 48),
                _tool_request("What time is it in Paris?", "required", [WEATHER, TIME])]
    results = _by_key(provider, requests)
    assert _valid(schema, json.loads(results[requests[0].key()].text))
    assert _valid(OWN["pattern"], json.loads(results[requests[1].key()].text))
    assert len(results[requests[2].key()].tool_calls) == 1


def test_off_asks_in_the_prompt_only() -> None:
    provider = HFProvider(_profile(batch_size=2, constrained_decoding="off"))
    assert provider.info.details["structured_output"] == "unconstrained"
    requests = [_json_request(OWN["enum"], 24), _tool_request("Weather in Oslo?", "required", [WEATHER], 24)]
    assert {r.json_decoding for r in provider.generate(requests)} == {"unconstrained"}


def test_shipped_traffic_json_answers_validate_under_constraint(tasks: Path, isolated_runs: Path) -> None:
    db = isolated_runs / "traffic.duckdb"
    data = ROOT / "tests" / "data" / "traffic"
    imported = run_harness("traffic", "import", str(data / "log.jsonl"), "--name", "trlog", "--incumbent", "gpt-4o",
                           "--db", str(db))
    assert imported.returncode == 0, imported.stderr[-2000:]
    evaluated = run_harness("eval", "-p", "smollm2", "-s", "trlog", "--db", str(db))
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    rows = query(db, "select g.json_decoding, s.metric, s.score from generations g join samples s "
                     "using (run_id, task, doc_id) join runs r using (run_id) "
                     "where r.provider = 'smollm2' and g.task = 'trlog_json' and s.metric = 'schema_valid'")
    assert rows and all(row == ("constrained:xgrammar", "schema_valid", 1.0) for row in rows), rows
    details = query(db, "select provenance from runs where provider = 'smollm2'")
    assert "constrained:xgrammar" in str(details)
