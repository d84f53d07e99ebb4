"""What the losses are made of: one failure class per sample, from what is stored, and the discordant
pairs split by the candidate's class. Each class is crafted on a real run's rows (a fake run stored by
the CLI, then edited the way a real provider's answer would have looked) and read back through the
SQL that compare, the report and plain `duckdb` share."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.checks import query
from tests.conftest import run_harness

# (class, error kind, what the candidate's doc is made to look like)
CASES = [
    ("unsupported_feature", None, {"error": "unsupported: tools"}),
    ("error", "timeout", {"error": "timeout after 60 s"}),
    ("error", "rate_limit", {"error": "HTTP 429: rate limit reached"}),
    ("error", "server", {"error": "HTTP 503: Service Unavailable"}),
    ("error", "context_length", {"error": "HTTP 400: This model's maximum context length is 2048 tokens"}),
    ("error", "context_length", {"error": "context_length: the prompt does not fit the model's context of 8,192 "
                                          "tokens (with room for one token of answer)"}),
    ("error", "client", {"error": "HTTP 400: Invalid request: unknown parameter"}),
    ("error", "connection", {"error": "connection error: Connection refused"}),
    ("correct", None, {"score": 1.0}),
    ("empty", None, {"response": "", "filtered": ""}),
    ("truncated", None, {"finish_reason": "length", "response": "Let me think step by step about"}),
    ("refusal", None, {"response": "I'm sorry, but I can't help with that request."}),
    ("invalid_json", None, {"metrics": {"json_valid": 0.0, "schema_valid": 0.0}}),
    ("schema_violation", None, {"metrics": {"json_valid": 1.0, "schema_valid": 0.0}}),
    ("wrong_tool", None, {"metrics": {"tool_names": 0.0, "missed_call": 0.0, "spurious_call": 0.0}}),
    ("wrong_tool", None, {"metrics": {"tool_names": 1.0, "missed_call": 1.0, "spurious_call": 0.0}}),
    ("wrong_arguments", None, {"metrics": {"tool_names": 1.0, "missed_call": 0.0, "spurious_call": 0.0}}),
    ("no_answer", None, {"response": "The capital is Paris", "filtered": "[invalid]"}),
    ("wrong", None, {"response": "B", "filtered": "B"}),
]


@pytest.fixture(scope="module")
def crafted(fake_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fake vs fake2 on smoke, fake2's first docs of smoke_choice rewritten one per case (fake right)."""
    db = tmp_path_factory.mktemp("failures") / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    base, cand = (query(db, "select run_id from runs where provider = ?", [p])[0][0] for p in ("fake", "fake2"))
    task, metric = query(db, "select task, metric from task_scores where run_id = ? and is_primary "
                             "and task = 'smoke_choice'", [cand])[0]
    statements, params = [], []
    for doc_id, (_, _, change) in enumerate(CASES):
        sample = {"score": change.get("score", 0.0), "error": change.get("error"),
                  "response": change.get("response", "B"), "filtered": change.get("filtered", "B")}
        statements.append(f"update samples set score = $score, error = $error, response = $response, "
                          f"filtered = $filtered where run_id = $run and task = '{task}' and doc_id = {doc_id} "
                          f"and metric = '{metric}'")
        params.append({**sample, "run": cand})
        statements.append(f"update generations set error = $error, response = $response, finish_reason = $finish "
                          f"where run_id = $run and task = '{task}' and doc_id = {doc_id}")
        params.append({"error": sample["error"], "response": sample["response"], "run": cand,
                       "finish": change.get("finish_reason", "stop")})
        for name, score in change.get("metrics", {}).items():
            statements.append(f"insert into samples (run_id, task, doc_id, filter, metric, prompt, response, score) "
                              f"values ($run, '{task}', {doc_id}, 'none', '{name}', 'p', 'r', $score)")
            params.append({"run": cand, "score": score})
        statements.append(f"update samples set score = 1 where run_id = $run and task = '{task}' and doc_id = {doc_id}"
                          f" and metric = '{metric}'")
        params.append({"run": base})
    con = duckdb.connect(str(db))
    try:
        for sql, values in zip(statements, params, strict=True):
            con.execute(sql, values)
    finally:
        con.close()
    return db


@pytest.mark.parametrize("doc_id", range(len(CASES)), ids=[f"{c[0]}-{c[1] or i}" for i, c in enumerate(CASES)])
def test_each_class_from_what_is_stored(crafted: Path, doc_id: int) -> None:
    expected, kind, _ = CASES[doc_id]
    found = query(crafted, "select failure_class, error_kind from sample_classes s join runs r using (run_id) "
                           "where r.provider = 'fake2' and task = 'smoke_choice' and doc_id = ?", [doc_id])
    assert found == [(expected, kind)]


def test_failure_modes_from_plain_duckdb(crafted: Path) -> None:
    """The macro lives in the file: DuckDB's own client reads it, no harness code involved."""
    con = duckdb.connect(str(crafted), read_only=True)
    try:
        rows = con.execute("select failure_class, n, fixable_by from failure_modes('fake', 'fake2') "
                           "where task = 'smoke_choice'").fetchall()
    finally:
        con.close()
    by_class = {name: (n, fixable) for name, n, fixable in rows}
    # Errored pairs are out of the comparison, as in quality_gap; a correct doc is not a loss.
    assert "error" not in by_class and "correct" not in by_class
    for name in ("unsupported_feature", "empty", "truncated", "refusal", "invalid_json", "schema_violation",
                 "wrong_arguments", "no_answer"):
        assert by_class[name][0] >= 1, name
    assert by_class["wrong_tool"][0] >= 2
    assert by_class["truncated"][1] == "token cap" and by_class["no_answer"][1] == "format"
    assert by_class["invalid_json"][1] == "format" and by_class["wrong"][1] is None


def test_compare_splits_the_losses(crafted: Path) -> None:
    shown = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(crafted), "-f", "json")
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    choice = result["losses"]["smoke_choice"]
    total = {c["failure_class"]: c["n"] for c in choice["classes"]}
    assert choice["discordant"] == sum(total.values()) and total["refusal"] >= 1
    row = next(r for r in result["rows"] if r["task"] == "smoke_choice")
    assert row["losses"].startswith(f"{choice['discordant']}: ") and "fixable: " in row["losses"]
    overall = result["losses"]["OVERALL"]
    assert overall["discordant"] == sum(v["discordant"] for k, v in result["losses"].items() if k != "OVERALL")
    table = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(crafted))
    assert table.returncode == 0 and "losses" in table.stdout and row["losses"].split(":")[0] in table.stdout


def test_refusal_patterns() -> None:
    con = duckdb.connect()
    try:
        from harness.store.sql import failures

        con.execute(failures.LH_IS_REFUSAL.sql)
        for text, refused in [("I'm sorry, but I can't help with that.", True), ("I cannot assist with that.", True),
                              ("As an AI language model, I do not have opinions.", True),
                              ("I can’t provide medical advice.", True), ("The answer is 4.", False),
                              ("Sorry for the wait: the answer is B.", False)]:
            assert con.execute("select lh_is_refusal(?)", [text]).fetchone() == (refused,), text
    finally:
        con.close()
