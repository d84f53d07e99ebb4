"""Your traffic is the benchmark: logged requests imported in each of the shapes teams have,
replayed on providers through the CLI, compared against the incumbent's logged answers. Real parts:
DuckDB files, the CLI in child processes, the embedded model and llama.cpp's llama-server (slow tests)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.checks import one_error_line, query
from tests.conftest import ROOT, run_harness
from tests.test_traffic_read import EXPECTED, _bad
from tests.test_traffic_telemetry import PAYLOADS, _chat_span

DATA = ROOT / "tests" / "data" / "traffic"
CANARY = "sk-canary9876543210zyxwvutsrqponmlk"


def _import(db: Path, *args: str) -> None:
    result = run_harness("traffic", "import", *args, "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]


def _import_all(db: Path) -> None:
    _import(db, str(DATA / "log.jsonl"), "--name", "trlog", "--incumbent", "gpt-4o")
    _import(db, str(DATA / "batch_input.jsonl"), "--batch-output", str(DATA / "batch_output.jsonl"),
            "--name", "trbatch", "--incumbent", "gpt-4o-mini")
    _import(db, str(DATA / "plain.jsonl"), "--name", "trplain")


def _eval(db: Path, provider: str, suite: str, *extra: str) -> None:
    result = run_harness("eval", "-p", provider, "-s", suite, "--db", str(db), *extra)
    assert result.returncode == 0, result.stderr[-2000:]


def _latest(db: Path, provider: str, suite: str) -> str:
    return str(query(db, "select run_id from runs where provider = ? and suite = ? and status = 'complete' "
                         "order by started_at desc limit 1", [provider, suite])[0][0])


def test_three_shapes_import_and_replay_on_a_provider_without_tools(tasks: Path, isolated_runs: Path) -> None:
    db = isolated_runs / "traffic.duckdb"
    _import_all(db)
    assert (tasks / "trlog.yaml").is_file() and (tasks / "traffic" / "trlog" / "trlog_tools").is_dir()
    imports = query(db, "select suite, shape, n_requests, n_tools, n_json, n_text, n_without_expected, incumbent "
                        "from traffic_imports order by suite")
    assert imports == [("trbatch", "batch", 5, 2, 1, 2, 0, "gpt-4o-mini"), ("trlog", "log", 5, 2, 1, 2, 0, "gpt-4o"),
                       ("trplain", "plain", 5, 2, 1, 2, 0, None)]
    imported = query(db, "select provider, suite, source, n_requests, n_errors from runs order by suite")
    assert imported == [("gpt-4o-mini", "trbatch", "imported", 5, 0), ("gpt-4o", "trlog", "imported", 5, 0)]
    run = _latest(db, "gpt-4o", "trlog")
    logged = query(db, "select model_reported, fingerprint, tool_calls, json_decoding, input_tokens from generations "
                       "where run_id = ? order by task, doc_id", [run])
    assert {row[0] for row in logged} == {"gpt-4o-2024-08-06"} and {row[1] for row in logged} == {"fp_7f6be3efb0"}
    calls = [json.loads(row[2]) for row in logged if row[2]]
    assert [[c["name"] for c in call] for call in calls] == [["get_weather", "get_weather"]]  # the parallel calls
    # The incumbent's JSON mode (1 request) and function calling (2) held its structured answers.
    assert [row[3] for row in logged].count("api") == 3 and all(row[4] for row in logged)
    # The incumbent is scored against its own answers: 1 everywhere it gave a valid one.
    assert query(db, "select min(score) from samples s join task_scores t using (run_id, task, metric, filter) "
                     "where run_id = ? and t.is_primary", [run]) == [(1.0,)]

    for suite in ("trlog", "trbatch", "trplain"):
        _eval(db, "fake", suite)
    fake = _latest(db, "fake", "trlog")
    unsupported = query(db, "select task, error from generations where run_id = ? and error is not null "
                            "order by task, doc_id", [fake])
    assert unsupported == [("trlog_json", "unsupported: json_schema"), ("trlog_tools", "unsupported: tools"),
                           ("trlog_tools", "unsupported: tools")]
    assert query(db, "select count(*) from samples where run_id = ? and error like 'unsupported%' and score > 0 "
                     "and metric not in ('spurious_call', 'missed_call')", [fake]) == [(0,)]
    shown = run_harness("compare", "-b", "gpt-4o", "-c", "fake", "--suite", "trlog", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert "unsupported: json_schema (1), unsupported: tools (2)" in shown.stdout
    # Plain lines carry the team's references: both sides are scored against them.
    plain = _latest(db, "fake", "trplain")
    assert query(db, "select count(*) from samples where run_id = ?", [plain])[0][0] == 2 * 6 + 4 + 2 * 2


def test_telemetry_imports_and_compares_with_a_provider(tasks: Path, isolated_runs: Path) -> None:
    """OpenTelemetry GenAI spans and LiteLLM payloads through the real CLI: the incumbent's answers
    become its run, what was skipped is said, and a candidate's run compares against it."""
    db = isolated_runs / "traffic.duckdb"
    said = {}
    for name, source in (("trotel", "otel_genai.jsonl"), ("trlitellm", "litellm.jsonl")):
        result = run_harness("traffic", "import", str(DATA / source), "--name", name, "--incumbent", "gpt-4o",
                             "--db", str(db))
        assert result.returncode == 0, result.stderr[-2000:]
        said[name] = result.stdout
    assert "4 span(s) skipped that are not chat calls (execute_tool 2, invoke_agent 1, not GenAI 1)" in said["trotel"]
    assert "1 failed chat call(s) skipped: a failed call is not an answer" in said["trlitellm"]
    assert "0 credential(s) removed" in said["trlitellm"]  # key hashes and aliases are dropped unread
    imports = query(db, "select suite, shape, n_requests, n_tools, n_json, n_text, n_without_expected "
                        "from traffic_imports order by suite")
    assert imports == [("trlitellm", "litellm", 5, 2, 1, 2, 0), ("trotel", "otel", 5, 2, 1, 2, 0)]
    for suite in ("trotel", "trlitellm"):
        run = _latest(db, "gpt-4o", suite)
        logged = query(db, "select model_reported, input_tokens from generations where run_id = ?", [run])
        assert len(logged) == 5 and {row[0] for row in logged} == {"gpt-4o-2024-08-06"} and all(r[1] for r in logged)
        _eval(db, "fake", suite)
        shown = run_harness("compare", "-b", "gpt-4o", "-c", "fake", "--suite", suite, "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert "OVERALL" in shown.stdout


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


CLI_CASES = {
    **{kind: None for kind in EXPECTED},
    "tool_choice without tools": ([{"messages": [{"role": "user", "content": "hi"}], "tool_choice": "auto"}],
                                  r"line 1: the request sets tool_choice but offers no tools"),
    "a penalty that is not a number": ([{"messages": [{"role": "user", "content": "hi"}], "presence_penalty": "high"}],
                                       r'line 1: presence_penalty must be a number, not "high"'),
    "reference of the wrong shape": ([{"messages": [{"role": "user", "content": "hi"}], "reference": {"a": 1}}],
                                     r"line 1: a reference for a text request must be text"),
    "incumbent without answers": ([{"messages": [{"role": "user", "content": "hi"}]}],
                                  r"line 1 has no logged answer; --incumbent needs one per request"),
    "unknown incumbent": ([{"request": {"messages": [{"role": "user", "content": "hi"}]},
                            "response": {"choices": [{"message": {"role": "assistant", "content": "x"}}]}}],
                          r"unknown provider 'nosuch'"),
    "a shipped suite's name": ([{"messages": [{"role": "user", "content": "hi"}]}],
                               r"suite 'smoke' already exists and is not imported traffic"),
    "a path as the name": ([{"messages": [{"role": "user", "content": "hi"}]}], r"suite name '../evil' is not a name"),
    "OTel setting of the wrong type": ([_chat_span(gen_ai__request__max_tokens={"doubleValue": 1.5})],
                                       r"t\.jsonl: line 1 \(resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\): "
                                       r"gen_ai\.request\.max_tokens must be an integer, not 1\.5"),
    "OTel malformed value": ([_chat_span(gen_ai__usage__input_tokens={"intValue": "4.5"})],
                             r"t\.jsonl: line 1 \(.*spans\[0\]\): attribute 'gen_ai\.usage\.input_tokens' "
                             r"has a malformed intValue"),
    "OTel chat span without messages": ([_chat_span(gen_ai__input__messages=None)],
                                        r"t\.jsonl: line 1 \(.*\): the chat span has no gen_ai\.input\.messages"),
    "OTel span without an answer": ([_chat_span()], r"t\.jsonl: line 1 \(.*spans\[0\]\) has no logged answer"),
    "LiteLLM redacted messages": ([{**PAYLOADS[0], "messages": [{"role": "user", "content": "redacted-by-litellm"}]}],
                                  r"t\.jsonl: line 1: LiteLLM redacted this call's messages"),
    "LiteLLM failures only": ([PAYLOADS[5]], r"t\.jsonl holds no chat calls to import \(1 failed chat call"),
}


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tasks folder and a database holding one earlier import: what a refused import must leave alone."""
    folder = tmp_path_factory.mktemp("before")
    tasks, db = folder / "tasks", folder / "traffic.duckdb"
    shutil.copytree(ROOT / "tasks", tasks)
    result = run_harness("traffic", "import", str(DATA / "plain.jsonl"), "--name", "before", "--db", str(db),
                         env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 0, result.stderr
    return tasks, db


@pytest.mark.parametrize("kind", list(CLI_CASES))
def test_malformed_traffic_is_one_line_and_writes_nothing(kind: str, before: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    tasks, db = before
    before_tree, db_bytes = _tree(tasks), db.read_bytes()
    case = CLI_CASES[kind]
    name, extra = "bad", []
    if case is None:
        path, output = _bad(tmp_path, kind)
        extra, pattern = (["--batch-output", str(output)] if output else []), EXPECTED[kind]
    else:
        path, pattern = tmp_path / "t.jsonl", case[1]
        path.write_text("".join(json.dumps(line) + "\n" for line in case[0]))
        extra = {"incumbent without answers": ["--incumbent", "gpt-4o"], "OTel span without an answer": [
            "--incumbent", "gpt-4o"], "unknown incumbent": ["--incumbent", "nosuch"]}.get(kind, [])
        name = {"a shipped suite's name": "smoke", "a path as the name": "../evil"}.get(kind, name)
    result = run_harness("traffic", "import", str(path), "--name", name, "--db", str(db), *extra,
                         env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 2, result.stderr
    assert re.search(pattern, one_error_line(result)), result.stderr
    assert _tree(tasks) == before_tree and db.read_bytes() == db_bytes


def test_the_cli_matrix_is_broad() -> None:
    assert len(CLI_CASES) >= 12


def test_a_canary_key_never_persists(tasks: Path, isolated_runs: Path, tmp_path: Path) -> None:
    """A key in a logged header, in a request field and in message text: found in 0 bytes anywhere."""
    lines = [json.loads(line) for line in (DATA / "log.jsonl").read_text().splitlines()]
    lines[0]["headers"] = {"Authorization": f"Bearer {CANARY}", "OpenAI-Organization": "org-1"}
    lines[0]["request"]["api_key"] = CANARY
    lines[1]["request"]["messages"][1]["content"] += f" (my key is {CANARY}; mail me at ops@example.com)"
    source = tmp_path / "log.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = isolated_runs / "harness.duckdb"
    outputs = [run_harness("traffic", "import", str(source), "--name", "canary", "--incumbent", "gpt-4o", "--redact")]
    outputs.append(run_harness("--debug", "eval", "-p", "fake", "-s", "canary"))
    outputs.append(run_harness("report", "-b", "gpt-4o", "-c", "fake", "--suite", "canary",
                               "-o", str(isolated_runs / "review.html")))
    outputs.append(run_harness("sql", "select * from generations"))
    for result in outputs:
        assert result.returncode == 0, result.stderr[-2000:]
        assert CANARY not in result.stdout + result.stderr
    assert "3 credential(s) removed; 1 personal value(s) masked" in outputs[0].stdout
    found = [p for folder in (isolated_runs, tasks) for p in folder.rglob("*")
             if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert found == [] and db.is_file()
    assert b"ops@example.com" not in db.read_bytes() + b"".join(p.read_bytes() for p in tasks.rglob("*.jsonl"))
    report = (isolated_runs / "review.html").read_text()
    assert "personal data masked (--redact ran: 1 value(s))" in report and "3 credential(s) removed" in report


@pytest.mark.slow
def test_round_trip_on_the_embedded_model_and_llamacpp(tasks: Path, isolated_runs: Path,
                                                       llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    db = isolated_runs / "traffic.duckdb"
    _import_all(db)
    for suite in ("trlog", "trbatch", "trplain"):  # the same requests: the cache answers the second and third
        _eval(db, "smollm2", suite)
        _eval(db, "llamacpp", suite, "--base-url", llamacpp_server.base_url)
    for candidate in ("smollm2", "llamacpp"):
        shown = run_harness("compare", "-b", "gpt-4o", "-c", candidate, "--suite", "trlog", "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert "OVERALL" in shown.stdout
    local, served = _latest(db, "smollm2", "trlog"), _latest(db, "llamacpp", "trlog")
    assert query(db, "select count(*), count(error) from generations where run_id = ?", [local]) == [(5, 0)]
    assert query(db, "select json_decoding from generations where run_id = ? and task = 'trlog_json'",
                 [local]) == [("constrained:xgrammar",)]  # the profile's default: a grammar holds the schema
    # llama-server serves tools and json_schema (its profile says so): nothing is stored 'unsupported'.
    assert query(db, "select count(*), count(error) from generations where run_id = ?", [served]) == [(5, 0)]
    assert query(db, "select json_decoding from generations where run_id = ? and task = 'trlog_json'",
                 [served]) == [("api",)]
    for run in (local, served):
        metrics = {m for (m,) in query(db, "select distinct metric from samples where run_id = ?", [run])}
        assert {"tool_match", "tool_f1", "json_valid", "schema_valid", "similarity"} <= metrics
        assert query(db, "select count(*) from samples where run_id = ? and score is null", [run]) == [(0,)]
    assert os.environ.get("HARNESS_DB") is None


@pytest.mark.slow
def test_the_tools_suite_on_the_embedded_model_and_llamacpp(isolated_runs: Path,
                                                            llamacpp_server) -> None:  # type: ignore[no-untyped-def]
    assert run_harness("data", "pull").returncode == 0
    db = isolated_runs / "tools.duckdb"
    _eval(db, "smollm2", "tools", "--limit", "2")
    _eval(db, "llamacpp", "tools", "--limit", "2", "--base-url", llamacpp_server.base_url)
    local, served = _latest(db, "smollm2", "tools"), _latest(db, "llamacpp", "tools")
    scores = query(db, "select task, count(*), count(score) from samples where run_id = ? group by task order by task",
                   [local])
    assert scores == [(f"bfcl_{c}", 2, 2) for c in ("irrelevance", "multiple", "parallel", "parallel_multiple",
                                                     "simple")]
    assert query(db, "select count(*), count(error) from generations where run_id = ?", [local]) == [(10, 0)]
    assert query(db, "select count(*), count(error) from generations where run_id = ?", [served]) == [(10, 0)]
