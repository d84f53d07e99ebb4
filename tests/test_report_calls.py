"""Tool calls and targets on the decision page: each side's calls as `get_weather(city="Oslo")` lines,
the incumbent's included, and a target lm-eval stored as a Python repr shown as calls, in the HTML and
in its Markdown twin. Real parts: the shipped traffic log imported through the CLI into DuckDB, a
loopback OpenAI-compatible server through the real client, the report written by the CLI."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from harness.report.calls import call_text, calls_text, target_text
from harness.report.render import _env, answer
from tests.conftest import ROOT, run_harness
from tests.servers import FormatServer

WEATHER = '[{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}", "id": null}]'
REPR = ("""[{'name': 'get_weather', 'arguments': '{"city": "Oslo"}'}, """
        """{'name': 'get_weather', 'arguments': '{"city": "Bergen"}'}]""")  # as lm-eval stores a list target


def test_stored_calls_read_as_calls() -> None:
    assert calls_text(WEATHER) == ['get_weather(city="Oslo")']
    assert calls_text(None) == [] and calls_text("") == [] and calls_text("[]") == []
    openai = [{"id": "call_1", "type": "function",
               "function": {"name": "get_weather", "arguments": '{"city": "Oslo", "unit": "c"}'}}]
    assert calls_text(json.dumps(openai)) == ['get_weather(city="Oslo", unit="c")']
    assert calls_text('[{"name": "lookup", "arguments": {"ids": [1, 2], "deep": null}}]') == [
        "lookup(ids=[1, 2], deep=null)"]  # arguments already parsed: the same form


def test_a_malformed_call_is_shown_as_it_came() -> None:
    assert calls_text('[{"name": "get_weather", "arguments": "{city: Oslo"}]') == ["get_weather({city: Oslo)"]
    assert call_text("f", "[1, 2]") == "f([1, 2])"  # valid JSON, but not an object of arguments
    assert calls_text("not json at all") == ["not json at all"]
    assert calls_text('{"unexpected": 1}') == ['{"unexpected": 1}']


def test_targets_read_as_calls_json_or_text() -> None:
    assert target_text(REPR) == 'get_weather(city="Oslo")\nget_weather(city="Bergen")'
    assert target_text("""{'name': 'get_weather', 'arguments': '{"city": "Oslo"}'}""") == 'get_weather(city="Oslo")'
    openai = [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]
    assert target_text(json.dumps(openai)) == 'get_weather(city="Oslo")'
    assert target_text('{"country":   "Japan",\n "capital": "Tokyo"}') == '{"country": "Japan", "capital": "Tokyo"}'
    assert target_text('{"name": "Oslo"}') == '{"name": "Oslo"}'  # an object with a name is not a call
    for text in ("Stockholm.", "[1] Paris, see the note", "{not json", "  Bonjour.\n"):
        assert target_text(text) == text
    assert target_text(None) == "" and target_text("") == ""


def test_answers_are_text_then_calls_and_stay_escaped() -> None:
    assert answer("Let me check.", WEATHER) == 'Let me check.\nget_weather(city="Oslo")'
    assert answer(None, WEATHER) == answer("", WEATHER) == 'get_weather(city="Oslo")'
    assert answer("Stockholm.", None) == "Stockholm."
    hostile = json.dumps([{"name": "get\x9bweather", "arguments": json.dumps({"city": "<b>Oslo</b>"})}])
    page = _env(True).from_string("<pre>{{ x | answer(c) }}</pre>").render(x=None, c=hostile)
    assert page == '<pre>get\\x9bweather(city=&#34;&lt;b&gt;Oslo&lt;/b&gt;&#34;)</pre>'
    twin = _env(False).from_string("{{ x | answer(c) | fence }}").render(x=None, c=hostile)
    assert twin == '```text\nget\\x9bweather(city="<b>Oslo</b>")\n```'


def _ok(*args: str) -> None:
    result = run_harness(*args)
    assert result.returncode == 0, result.stderr[-3000:]


def _log(path: Path) -> None:
    """The shipped log (its incumbent answers the Oslo-and-Bergen request with two parallel calls, and
    the candidate here answers it in prose), plus one request that requires a call: the candidate calls
    get_weather with an empty city, the incumbent with Oslo."""
    lines = (ROOT / "tests" / "data" / "traffic" / "log.jsonl").read_text().splitlines()
    required = json.loads(lines[1])
    required["request"].update(tool_choice="required")
    required["request"]["messages"][-1]["content"] = "What is the weather in Oslo?"
    message = required["response"]["choices"][0]["message"]
    message["tool_calls"] = message["tool_calls"][:1]
    path.write_text("\n".join([*lines, json.dumps(required)]) + "\n", encoding="utf-8")


def _section(text: str, start: str, end: str | None) -> str:
    found = text[text.index(start):]
    return found[: found.index(end)] if end else found


@pytest.mark.usefixtures("tasks")
def test_the_report_shows_both_sides_calls_and_readable_targets(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    _log(tmp_path / "log.jsonl")
    _ok("traffic", "import", str(tmp_path / "log.jsonl"), "--name", "wx", "--incumbent", "gpt-4o", "--db", str(db))
    with FormatServer(honour=True) as server:
        _ok("eval", "-p", "local-openai", "-s", "wx", "--base-url", server.base_url, "--no-cache", "--db", str(db))
    _ok("report", "-b", "gpt-4o", "-c", "local-openai", "--suite", "wx", "-o", str(tmp_path / "r.html"),
        "--db", str(db))
    page = html.unescape((tmp_path / "r.html").read_text(encoding="utf-8"))
    twin = (tmp_path / "r.md").read_text(encoding="utf-8")
    both = 'get_weather(city="Oslo")\nget_weather(city="Bergen")'
    in_html = "<p>{side}</p><pre>{calls}</pre>"
    losses_md, examples_md = ("{side}" + said + ":\n\n```text\n{calls}\n```" for said in (" answered", ""))
    sections = [(page, 'id="losses"', 'id="judged"', in_html), (page, 'id="disagreements"', None, in_html),
                (twin, "## What the losses are made of", "## Judged preference", losses_md),
                (twin, "## Examples: ", None, examples_md)]
    for text, start, end, shown in sections:
        part = _section(text, start, end)
        assert shown.format(side="gpt-4o", calls=both) in part, part  # the parallel calls, one a line
        assert shown.format(side="gpt-4o", calls='get_weather(city="Oslo")') in part, part
        assert shown.format(side="local-openai", calls='get_weather(city="")') in part, part
        assert f"target:\n\n```text\n{both}\n```" in part or f"target: <code>{both}</code>" in part, part
        assert 'target: get_weather(city="Oslo")\n' in part or 'target: <code>get_weather(city="Oslo")</code>' in part
    for text in (page, twin):
        assert "[{'name'" not in text and "{'name'" not in text and '"id": "call_1"' not in text
