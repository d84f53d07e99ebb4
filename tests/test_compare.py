"""`harness compare` on real stored runs (the fake provider through the real runner): numbers equal
the SQL macro's, and the comparability guard refuses each kind of mismatch unless told otherwise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_harness


@pytest.fixture
def stored(fake_runs: dict[str, Path]) -> dict[str, Path]:
    return fake_runs


def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copy(source, target)
    return target


def test_compare_gives_the_sql_macros_numbers(stored: dict[str, Path]) -> None:
    db = str(stored["db"])
    shown = run_harness("compare", "-b", "fake", "-c", "fake2", "--margin", "0.1", "-f", "json", "--db", db)
    assert shown.returncode == 0, shown.stderr
    compared = json.loads(shown.stdout)
    assert compared["label"] is None and compared["mismatches"] == []
    sql = run_harness("sql", "select * from migration('fake', 'fake2', margin := 0.1)", "-f", "json", "--db", db)
    assert sql.returncode == 0, sql.stderr
    from_sql = json.loads(sql.stdout)
    assert [r["task"] for r in from_sql] == ["smoke_arithmetic", "smoke_choice", "smoke_strings", "OVERALL"]
    for mine, theirs in zip(compared["rows"], from_sql, strict=True):
        assert {k: mine[k] for k in theirs} == theirs
        assert mine["verdict"] in ("feasible", "infeasible", "inconclusive")
    assert all(r["n"] == 24 for r in compared["rows"][:3])
    assert "retained_boot_ci" in compared["rows"][1]  # Python extras sit beside the SQL numbers


def test_table_and_csv_formats(stored: dict[str, Path]) -> None:
    table = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(stored["db"]))
    assert table.returncode == 0, table.stderr
    assert "OVERALL" in table.stdout and "verdict" in table.stdout
    csv = run_harness("compare", "-b", "fake", "-c", "fake2", "--holm", "-f", "csv", "--db", str(stored["db"]))
    lines = csv.stdout.strip().splitlines()
    assert lines[0].startswith("suite,task,metric,filter,weight,n,") and "p_holm" in lines[0]
    assert len(lines) == 5


MUTATIONS = {
    "task set": "delete from task_scores where run_id = $cand and task = 'smoke_choice'",
    "task version": "update task_scores set task_version = '2.0' where run_id = $cand and task = 'smoke_strings'",
    "few-shot count": "update task_scores set num_fewshot = 5 where run_id = $cand and task = 'smoke_arithmetic'",
    "decoding settings": """update task_scores set gen_kwargs = '{"max_gen_toks": 64, "until": ["\\n"]}'
                            where run_id = $cand and task = 'smoke_choice'""",
    "chat-template policy": "update runs set chat_template = not chat_template where run_id = $cand",
    "metric": """update task_scores set is_primary = false where run_id = $cand and task = 'smoke_choice';
                 insert into task_scores (run_id, task, metric, filter, value, is_primary)
                 values ($cand, 'smoke_choice', 'f1', 'strict', 0.5, true)""",
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_guard_refuses_each_mismatch(kind: str, stored: dict[str, Path], tmp_path: Path) -> None:
    db = _copy(stored["db"], tmp_path)
    con = duckdb.connect(str(db))
    try:
        cand = con.execute("select run_id from runs where provider = 'fake2'").fetchone()[0]  # type: ignore[index]
        for statement in MUTATIONS[kind].split(";"):
            con.execute(statement, {"cand": cand})
    finally:
        con.close()
    _assert_refused_then_labelled(db, kind)


def test_guard_refuses_a_different_doc_set(stored: dict[str, Path]) -> None:
    _assert_refused_then_labelled(stored["partial"], "doc set")


def _assert_refused_then_labelled(db: Path, kind: str) -> None:
    refused = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(db))
    assert refused.returncode == 2
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{kind} differs" in lines[0] and "--allow-mismatch" in lines[0], refused.stderr
    allowed = run_harness("compare", "-b", "fake", "-c", "fake2", "--allow-mismatch", "-f", "json", "--db", str(db))
    assert allowed.returncode == 0, allowed.stderr
    shown = json.loads(allowed.stdout)
    assert shown["label"].startswith("MISMATCHED") and kind in shown["label"]
    assert all(row["mismatch"] for row in shown["rows"] if row["task"] == "OVERALL")
    table = run_harness("compare", "-b", "fake", "-c", "fake2", "--allow-mismatch", "--db", str(db))
    assert "MISMATCHED" in table.stderr and "MISMATCHED" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("-b", "nobody", "-c", "fake2"), "no complete run for baseline 'nobody'"),
    (("-b", "fake", "-c", "fake2", "--margin", "1.5"), "--margin must be in [0, 1)"),
    (("-b", "fake", "-c", "fake2", "-f", "xml"), "unknown format 'xml'"),
    (("-b", "fake", "-c", "fake2", "--suite", "core"), "no complete run for baseline 'fake' in suite 'core'"),
])
def test_bad_compare_input_is_one_line(args: tuple[str, ...], message: str, stored: dict[str, Path]) -> None:
    result = run_harness("compare", *args, "--db", str(stored["db"]))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}" or message in result.stderr.strip().splitlines()[0]
    assert len(result.stderr.strip().splitlines()) == 1
