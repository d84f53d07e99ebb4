"""What decides an answer survives import through the CLI: legacy function calling becomes tools and
tool calls (the request is a tools doc, the incumbent's call its expected and imported answer), and a
logged refusal stays the expected answer, which a candidate matches only by declining too."""

from __future__ import annotations

import json
from pathlib import Path

from tests.checks import query
from tests.conftest import run_harness
from tests.test_traffic_read import FUNCTIONS, LEGACY_CALL

REFUSED = "I'm sorry, but I can't help with that."


def _line(messages: list, answer: dict, **request: object) -> dict:
    return {"request": {"messages": messages, **request},
            "response": {"model": "gpt-4o-2024-08-06", "choices": [{"index": 0, **answer}]}}


def test_legacy_calls_and_refusals_round_trip(tasks: Path, isolated_runs: Path, tmp_path: Path) -> None:
    db, path = isolated_runs / "legacy.duckdb", tmp_path / "legacy.jsonl"
    lines = [
        _line([{"role": "user", "content": "Weather in Oslo?"}],
              {"finish_reason": "function_call", "message": {"role": "assistant", "content": None,
                                                             "function_call": LEGACY_CALL}},
              functions=FUNCTIONS, function_call="auto"),
        _line([{"role": "user", "content": "Write malware."}],
              {"finish_reason": "stop", "message": {"role": "assistant", "content": None, "refusal": REFUSED}}),
        _line([{"role": "user", "content": "Say hi."}],
              {"finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}),
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_harness("traffic", "import", str(path), "--name", "legacy", "--incumbent", "gpt-4o", "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert query(db, "select n_tools, n_text from traffic_imports") == [(1, 2)]
    run = query(db, "select run_id from runs where source = 'imported'")[0][0]
    rows = query(db, "select task, response, tool_calls, finish_reason from generations where run_id = ? "
                     "order by task, doc_id", [run])
    tools = [r for r in rows if r[0] == "legacy_tools"]
    called = {"name": "get_weather", "arguments": LEGACY_CALL["arguments"], "id": None}
    assert [json.loads(r[2]) for r in tools] == [[called]]
    assert tools[0][3] == "tool_calls"
    assert (REFUSED, "stop") in [(r[1], r[3]) for r in rows if r[0] == "legacy_text"]
    # The incumbent matches itself everywhere, its refusal included.
    assert query(db, "select min(score) from samples s join task_scores t using (run_id, task, metric, filter) "
                     "where run_id = ? and t.is_primary", [run]) == [(1.0,)]

    replay = run_harness("eval", "-p", "fake", "-s", "legacy", "--db", str(db))
    assert replay.returncode == 0, replay.stderr[-2000:]
    fake = query(db, "select run_id from runs where provider = 'fake'")[0][0]
    sent = query(db, "select error from generations where run_id = ? and task = 'legacy_tools'", [fake])
    assert sent == [("unsupported: tools",)]  # a tools request, not a text one: the fake has no tools
    # The fake answers the refused request instead of declining: 0, not a match against an empty answer.
    scores = query(db, "select s.doc_id, s.score, s.response from samples s where run_id = ? and task = 'legacy_text'"
                       " and metric = 'similarity' order by doc_id", [fake])
    assert len(scores) == 2 and scores[0][1] == 0.0, scores
