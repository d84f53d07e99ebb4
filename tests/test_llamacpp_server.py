"""llama.cpp's C++ server (llama-server) serves what llama-cpp-python's server refused: the shipped
traffic files and the BFCL tools suite replayed on the `llamacpp` profile store no `unsupported:`
sample (that would count as lock-in): tools reach the prompt, calls made are stored per sample, and
json_schema answers are held by the server's grammar (the probe checks one is schema-valid)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.checks import query
from tests.conftest import run_harness
from tests.test_traffic import DATA, _eval, _import_all, _latest

pytestmark = pytest.mark.slow

TRAFFIC = ("trlog", "trbatch", "trplain")
# Two items per BFCL category (10 requests): every category is reached, and the test stays near two minutes.
TOOLS_LIMIT = "2"


def _schema(file: Path) -> dict:
    """The json_schema the shipped traffic file asks for (one such request per file)."""
    for line in file.read_text().splitlines():
        record = json.loads(line)
        request = record.get("request") or record.get("body") or record
        wanted = request.get("response_format") or {}
        if wanted.get("type") == "json_schema":
            return dict(wanted["json_schema"]["schema"])
    raise AssertionError(f"no json_schema request in {file.name}")


def test_traffic_and_tools_suite_are_served_not_refused(tasks: Path, isolated_runs: Path,
                                                        llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    assert run_harness("data", "pull").returncode == 0
    db = isolated_runs / "served.duckdb"
    _import_all(db)
    for suite in (*TRAFFIC, "tools"):
        extra = ("--limit", TOOLS_LIMIT) if suite == "tools" else ()
        _eval(db, "llamacpp", suite, "--base-url", llamacpp_server.base_url, *extra)
    runs = [_latest(db, "llamacpp", suite) for suite in (*TRAFFIC, "tools")]
    counted = "select count(*), count(error) from generations where run_id in (?, ?, ?, ?)"
    assert query(db, counted, runs) == [(25, 0)]
    marks = "?, ?, ?"  # the three traffic runs
    # The tools reached the prompt (the Python server dropped them): each traffic tools request's prompt
    # holds the tool listing, hundreds of tokens over its question. Calls, where the model made them,
    # are stored per sample, parsed back by the server (this 135M model mostly answers in prose).
    tools_rows = query(db, f"select input_tokens, tool_calls from generations where run_id in ({marks})"
                           " and task like '%\\_tools' escape '\\'", runs[:3])
    assert len(tools_rows) == 6 and all(tokens > 150 for tokens, _ in tools_rows), tools_rows
    assert all(json.loads(c)[0]["name"] == "get_weather" for _, c in tools_rows if c is not None), tools_rows
    # The json_schema request of each file: held by the server's grammar (json_decoding 'api'), so the
    # answer is schema-valid JSON, or, where this 135M model ran on inside a string, cut at the request's
    # max_tokens (64) and marked so: never free text.
    schema = _schema(DATA / "log.jsonl")
    answers = query(db, f"select response, json_decoding, finish_reason from generations where run_id in ({marks})"
                        " and task like '%\\_json' escape '\\'", runs[:3])
    print("llama-server json_schema answers:", answers)
    assert len(answers) == 3 and ("api" in {d for _, d, _ in answers})
    for response, decoding, finish in answers:
        # The same request in the next file is answered from the response cache, which keeps no decoding note.
        assert decoding in ("api", None) and response.lstrip().startswith("{"), (response, decoding)
        if finish != "length":
            jsonschema.validate(json.loads(response), schema)
    # BFCL: every item answered and scored (no sample stored unsupported); the calls made are printed.
    called = query(db, "select task, count(*), count(tool_calls) from generations where run_id = ? group by task"
                       " order by task", [runs[3]])
    print("llama-server on BFCL (task, items, tool calls):", called)
    assert [(task, n) for task, n, _ in called] == [(f"bfcl_{c}", 2) for c in (
        "irrelevance", "multiple", "parallel", "parallel_multiple", "simple")]
    assert query(db, "select count(*) from samples where run_id = ? and score is null", [runs[3]]) == [(0,)]


LOOKUP = [{"type": "function", "function": {"name": "lookup", "description": "Facts about a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}]


def test_a_call_the_request_requires_is_checked_not_trusted(tasks: Path, isolated_runs: Path, tmp_path: Path,
                                                            llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    """llama-server's answers to requests that require a call are validated like any host's. Two upstream
    behaviours are on record here, and the fail-open detector is what makes them visible: a named
    `tool_choice` (an object) is read as "auto" (the server expects a string), and under "required" its
    grammar lets prose come before the call, so a model that never starts one runs to the cap."""
    db = tmp_path / "h.duckdb"
    named = {"type": "function", "function": {"name": "lookup"}}
    lines = [{"messages": [{"role": "user", "content": f"Look up {city}."}], "tools": LOOKUP, "tool_choice": choice,
              "max_tokens": 48} for city, choice in (("Oslo", "required"), ("Bergen", named))]
    (tmp_path / "calls.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert run_harness("traffic", "import", str(tmp_path / "calls.jsonl"), "--name", "calls",
                       "--db", str(db)).returncode == 0
    _eval(db, "llamacpp", "calls", "--base-url", llamacpp_server.base_url)
    rows = query(db, "select prompt like '%Bergen%', response, tool_calls, constraint_asked, constraint_violation "
                     "from generations order by all")
    print("llama-server, calls required:", rows)
    assert len(rows) == 2
    for _, response, calls, asked, violation in rows:
        assert asked == "tool_call" and "<tool_call>" not in response  # a call made is parsed, never left as text
        made = json.loads(calls) if calls else []
        valid = bool(made) and all(c["name"] == "lookup" and "city" in json.loads(c["arguments"]) for c in made)
        assert (violation is None) == valid, (response, calls, violation)
    assert rows[1][4] == "missing_call", rows[1]  # Bergen: the named choice was not held
