"""Structured outputs are checked against what their request asked for, whatever held them: a server
that accepts a json_schema response format and required tool calls but ignores them (as vLLM since
v0.12 ignores the old guided fields) is flagged "constraint requested, N violations" in `compare` and
in the report; one that keeps to them is not. A replay sends what the log sent. Real parts: DuckDB
files, the CLI in child processes, loopback HTTP servers through the real openai client."""

from __future__ import annotations

import json
from pathlib import Path

from tests.checks import query
from tests.conftest import run_harness
from tests.servers import FormatServer

ANSWER = {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}}, "required": ["answer"],
          "additionalProperties": False}
LOOKUP = [{"type": "function", "function": {"name": "lookup", "description": "Look a city up.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _logged(content: str | None, calls: list[dict] | None = None, output_tokens: int = 6) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}],
            "usage": {"prompt_tokens": 20, "completion_tokens": output_tokens, "total_tokens": 20 + output_tokens}}


def write_log(path: Path) -> None:
    """3 json_schema requests, 1 json_object, 2 requiring a tool call (parallel_tool_calls false, no
    max_tokens), 1 plain text request without a cap whose logged answer took 300 tokens (and sets
    penalties, logit_bias, reasoning_effort, n, a field the harness does not replay and two that only
    decide delivery)."""
    lines = []
    for question in ("Is Oslo in Norway?", "Is Bergen a city?", "Is water wet?"):
        lines.append({"request": {"model": "gpt-4o", "max_tokens": 50, "temperature": 0,
                                  "messages": [{"role": "user", "content": question}],
                                  "response_format": {"type": "json_schema",
                                                      "json_schema": {"name": "a", "schema": ANSWER}}},
                      "response": _logged(json.dumps({"answer": "yes"}))})
    lines.append({"request": {"model": "gpt-4o", "max_tokens": 50, "temperature": 0,
                              "messages": [{"role": "user", "content": "An empty JSON object, please."}],
                              "response_format": {"type": "json_object"}}, "response": _logged("{}")})
    for city in ("Oslo", "Bergen"):
        call = {"id": "call_1", "type": "function",
                "function": {"name": "lookup", "arguments": json.dumps({"city": ""})}}
        lines.append({"request": {"model": "gpt-4o", "temperature": 0, "tools": LOOKUP, "tool_choice": "required",
                                  "parallel_tool_calls": False, "top_p": 0.5, "seed": 7,
                                  "messages": [{"role": "user", "content": f"Look up {city}."}]},
                      "response": _logged(None, [call])})
    lines.append({"request": {"model": "gpt-4o", "temperature": 0, "presence_penalty": 0.3,
                              "frequency_penalty": -0.2, "logit_bias": {"50256": -100}, "reasoning_effort": "low",
                              "n": 2, "verbosity": "low", "user": "u-17", "stream": False,
                              "messages": [{"role": "user", "content": "Tell me a long story."}]},
                  "response": _logged("Once upon a time ...", output_tokens=300)})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def _ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = run_harness(*args, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_server_that_ignores_the_schema_is_flagged_and_one_that_keeps_it_is_not(tasks: Path, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    write_log(tmp_path / "log.jsonl")
    _ok("traffic", "import", str(tmp_path / "log.jsonl"), "--name", "fo", "--incumbent", "gpt-4o", "--db", str(db))
    compare = ("compare", "-b", "gpt-4o", "-c", "local-openai", "--suite", "fo", "--db", str(db))
    with FormatServer(honour=True) as server:
        _ok("eval", "-p", "local-openai", "-s", "fo", "--base-url", server.base_url, "--no-cache", "--db", str(db))
    assert "constraint requested" not in _ok(*compare)
    kept = json.loads(_ok(*compare, "--format", "json"))["constraints"]
    assert [(c["side"], c["json_decoding"], c["checked"], c["violations"]) for c in kept] == [
        ("baseline", "api", 6, 0), ("candidate", "api", 6, 0)]

    with FormatServer(honour=False) as server:
        _ok("eval", "-p", "local-openai", "-s", "fo", "--base-url", server.base_url, "--no-cache", "--db", str(db))
    flag = "local-openai (api): constraint requested, 6 violations in 6 structured outputs " \
           "(invalid_json 4, missing_call 2)"
    assert f"note: {flag}" in " ".join(_ok(*compare).split())
    shown = json.loads(_ok(*compare, "--format", "json"))["constraints"]
    candidate = next(c for c in shown if c["side"] == "candidate")
    assert (candidate["violations"], candidate["failed_open"], candidate["by_kind"]) == (
        6, True, {"invalid_json": 4, "missing_call": 2})
    run = query(db, "select run_id from runs where provider = 'local-openai' order by started_at desc limit 1")[0][0]
    assert query(db, "select task, constraint_asked, constraint_violation, json_decoding, count(*) from generations "
                     "where run_id = ? and constraint_asked is not null group by all order by all", [run]) == [
        ("fo_json", "json_object", "invalid_json", "api", 1), ("fo_json", "json_schema", "invalid_json", "api", 3),
        ("fo_tools", "tool_call", "missing_call", "api", 2)]

    _ok("report", "-b", "gpt-4o", "-c", "local-openai", "--suite", "fo", "-o", str(tmp_path / "r.html"),
        "--db", str(db))
    assert flag in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert flag in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_a_replay_sends_what_the_log_sent(tasks: Path, tmp_path: Path) -> None:
    """parallel_tool_calls, top_p and seed reach the server as logged; a request logged without a cap is
    not capped below the incumbent's own answer (4x its output tokens, at least the import's default),
    and the generation says where its cap came from and what the harness changed."""
    db = tmp_path / "h.duckdb"
    write_log(tmp_path / "log.jsonl")
    _ok("traffic", "import", str(tmp_path / "log.jsonl"), "--name", "fo", "--incumbent", "gpt-4o", "--db", str(db))
    with FormatServer(honour=True) as server:
        _ok("eval", "-p", "gpt-4o", "-s", "fo", "--base-url", server.base_url, "--db", str(db),
            env={"OPENAI_API_KEY": "sk-test-not-a-key"})
        bodies = {b["messages"][-1]["content"]: b for b in server.bodies}
    tool = bodies["Look up Oslo."]
    assert (tool["parallel_tool_calls"], tool["top_p"], tool["seed"], tool["tool_choice"]) == (
        False, 0.5, 7, "required")
    assert tool["max_tokens"] == 512  # no cap logged: the import's default (4 x the incumbent's 6 tokens is less)
    assert bodies["Tell me a long story."]["max_tokens"] == 1200  # 4 x the incumbent's 300 output tokens
    story = bodies["Tell me a long story."]
    assert {k: story.get(k) for k in ("presence_penalty", "frequency_penalty", "logit_bias", "reasoning_effort")} == {
        "presence_penalty": 0.3, "frequency_penalty": -0.2, "logit_bias": {"50256": -100}, "reasoning_effort": "low"}
    assert not {"n", "verbosity", "user", "stream"} & {k for k, v in story.items() if v not in (None, 1, False)}
    assert bodies["Is Oslo in Norway?"]["max_tokens"] == 50  # the log's own cap
    assert "parallel_tool_calls" not in bodies["Is Oslo in Norway?"]
    run = query(db, "select run_id from runs where provider = 'gpt-4o' and source = 'live'")[0][0]
    origins = query(db, "select task, cap_origin, count(*) from generations where run_id = ? group by all "
                        "order by all", [run])
    assert origins == [("fo_json", "logged", 4), ("fo_text", "incumbent_output", 1),
                       ("fo_tools", "incumbent_output", 2)]
    notes = query(db, "select request_notes from generations where run_id = ? and task = 'fo_text'", [run])[0][0]
    assert "max_tokens: none logged, sent 1200" in notes
    assert "n: logged 2, sent 1" in notes and 'verbosity: logged "low", not sent' in notes
    assert "user" not in notes and "stream" not in notes  # decide delivery, not the answer
