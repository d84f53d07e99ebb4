"""A team's own prompts as tasks: metrics, the generated task running end to end, and row errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from harness.custom.metrics import score
from harness.run.runner import EvalOptions, run_eval
from tests.conftest import run_harness


@pytest.mark.parametrize(
    ("metric", "reference", "options", "right", "wrong"),
    [
        ("exact", "Paris", {}, " Paris\n", "paris"),
        ("contains", "paris", {}, "It is Paris.", "It is Lyon."),
        ("regex", r"^\d{3}-\d{4}$", {}, "555-1234", "5551234"),
        ("numeric", 42, {"abs_tol": 0.01}, "so the total is 42.004", "about 41"),
        ("numeric", 1200, {}, "It costs $1,200.", "It costs $1,300."),
        ("json_valid", "", {}, '```json\n{"a": 1}\n```', "{a: 1}"),
        ("json_schema", {"type": "object", "required": ["name"]}, {}, '{"name": "x"}', '{"age": 3}'),
        ("code", "assert add(2, 3) == 5", {}, "```python\ndef add(a, b):\n    return a + b\n```",
         "def add(a, b): pass"),
    ],
)
def test_metrics(metric: str, reference: object, options: dict, right: str, wrong: str) -> None:
    assert score(metric, right, reference, options) == 1.0
    assert score(metric, wrong, reference, options) == 0.0


def test_good_file_becomes_a_runnable_task(tasks: Path, tmp_path: Path, profiles: Path, isolated_runs: Path) -> None:
    rows = [{"input": f"Capital of France, case {i}?", "reference": "Paris", "metadata": {"i": i}} for i in range(5)]
    source = tmp_path / "prompts.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = run_harness("tasks", "new", "capitals", "--from", str(source), "--metric", "contains",
                         env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 0, result.stderr
    assert (tasks / "custom" / "capitals" / "capitals.yaml").is_file()
    # A fake that always says Paris scores 1 on every row; one that never does scores 0.
    (profiles / "paris.toml").write_text((profiles / "fake.toml").read_text().replace(
        'replies = ["A", "B", "C", "8", "12", "TABLE", "E", ""]', 'replies = ["The answer is Paris."]'))
    outcome = run_eval(EvalOptions(provider="paris", tasks=["capitals"]))
    assert outcome.scores[0]["value"] == 1.0 and outcome.n_requests == 5
    outcome = run_eval(EvalOptions(provider="fake", tasks=["capitals"]))
    assert outcome.scores[0]["value"] == 0.0
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from samples where task = 'capitals'").fetchone() == (10,)
    finally:
        con.close()


def test_yaml_spec_form(tasks: Path, tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"input": "Give a phone number.", "reference": "any"}\n')
    (tmp_path / "spec.yaml").write_text("task: phones\ndata: rows.jsonl\nmetric: regex\npattern: '\\\\d{3}-\\\\d{4}'\n"
                                        "max_tokens: 32\nstop: ['\\n']\n")
    result = run_harness("tasks", "new", "--spec", str(tmp_path / "spec.yaml"), env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 0, result.stderr
    scorer = (tasks / "custom" / "phones" / "scorer.py").read_text()
    assert "regex" in scorer and "d{3}-" in scorer


def test_malformed_rows_are_reported_by_line_and_nothing_is_written(tasks: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join([
        '{"input": "ok", "reference": 1}',
        '{"input": "broken", ',
        '{"input": "no reference"}',
        '{"input": "", "reference": 2}',
        '{"input": "x", "reference": "seven"}',
        '{"input": "x", "reference": 3, "colour": "red"}',
        '["not", "an", "object"]',
    ]) + "\n")
    result = run_harness("tasks", "new", "numbers", "--from", str(source), "--metric", "numeric",
                         env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    message = lines[0]
    for expected in ("6 bad row(s)", "line 2: bad JSON", "line 3: missing 'reference'",
                     "line 4: 'input' must be a non-empty string", "line 5: 'reference' must be a number",
                     "and 1 more"):
        assert expected in message, message
    assert not (tasks / "custom").exists() or not any((tasks / "custom").iterdir())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Bad-Name", "--metric", "exact"], "must be lowercase"),
        (["fine", "--metric", "telepathy"], "metric"),
    ],
)
def test_bad_arguments(tasks: Path, tmp_path: Path, args: list[str], expected: str) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"input": "a", "reference": "b"}\n')
    result = run_harness("tasks", "new", args[0], "--from", str(source), *args[1:],
                         env={"HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 2 and expected in result.stderr
