"""A judge for answers no metric can score: pairwise in both orders, refused when it would judge itself,
calibrated against labels, cached like any provider, and fed into compare and the report. Real parts:
the CLI in child processes, DuckDB files, scripted judges (fake profiles), and the embedded model as a
judge behind llama.cpp's server (slow)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from harness.judge.agreement import agreement
from harness.judge.prompts import family, pairwise_verdict, rubric_grade
from harness.run.judging import combine
from tests.checks import one_error_line, query
from tests.conftest import ROOT, run_harness

LABELS = ROOT / "tests" / "data" / "judge" / "labels.jsonl"


def _judge_profile(profiles: Path, name: str, reply: str, priced: bool = False) -> None:
    text = (profiles / "fake.toml").read_text()
    text = re.sub(r"replies = .*", lambda _: f"replies = [{json.dumps(reply)}]", text).replace('model = "fake"',
                                                                                    f'model = "{name}-judge"')
    if priced:
        text += "\n[pricing]\ninput_usd_per_mtok = 2.0\noutput_usd_per_mtok = 8.0\nas_of = 2026-12-01\n"
    (profiles / f"{name}.toml").write_text(text)


@pytest.fixture
def judged_db(fake_runs: dict[str, Path], tmp_path: Path, profiles: Path) -> Path:
    db = tmp_path / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    (profiles / "fake2.toml").write_text((profiles / "fake.toml").read_text().replace(
        'replies = ["A", "B", "C", "8", "12", "TABLE", "E", ""]',
        'replies = ["A", "B", "8", "12", "TABLE", "C", "", "E", "D"]'))
    _judge_profile(profiles, "firstjudge", "The first answer is better. [[A]]", priced=True)
    _judge_profile(profiles, "tiejudge", "Both are equally good. [[C]]")
    return db


def test_a_judge_that_always_prefers_the_first_answer_yields_ties(judged_db: Path) -> None:
    result = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "firstjudge",
                         "--db", str(judged_db))
    assert result.returncode == 0, result.stderr
    assert "72 docs (tie 72); position consistency 0%" in result.stdout
    rows = query(judged_db, "select outcome, verdict_1, verdict_2, consistent, reply_1, reply_2, prompt_name, "
                            "prompt_hash, judge_profile_hash, judge_model_reported, cost_usd from judgements")
    assert len(rows) == 72 and {r[:4] for r in rows} == {("tie", "loss", "win", False)}
    assert all(r[4] and r[5] and r[6] == "pairwise_v1" and len(r[7]) == 16 and r[8] and r[9] == "firstjudge-judge"
               for r in rows)
    assert all(r[10] > 0 for r in rows)  # priced per token: the judging has a cost
    shown = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(judged_db), "-f", "json")
    judged = json.loads(shown.stdout)["judged"]["rows"]
    assert {(r["wins"], r["losses"], r["position_consistency"], r["verdict"]) for r in judged} == {
        (0, 0, 0.0, "judge inconsistent")}
    # A cached re-judge asks nothing and costs nothing.
    again = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "firstjudge",
                        "--db", str(judged_db))
    assert again.returncode == 0 and re.search(r"judge calls: 0, from the cache: \d+; cost \$0\.0000", again.stdout)
    assert query(judged_db, "select count(*), sum(cost_usd), bool_and(cached) from judgements") == [(72, 0.0, True)]


def test_a_consistent_judge_feeds_compare_and_the_report(judged_db: Path, tmp_path: Path) -> None:
    from tests.test_report import check_in_browser

    result = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "tiejudge",
                         "--db", str(judged_db))
    assert result.returncode == 0, result.stderr
    calibrated = run_harness("judge", "calibrate", "--judge", "tiejudge", "--labels", str(LABELS),
                             "--db", str(judged_db))
    assert calibrated.returncode == 0, calibrated.stderr
    table = run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(judged_db), "--judge", "tiejudge")
    # 24 ties a task (72 in all) cannot show "not 5 points worse" at 95%: an exact test needs about 80.
    assert "judged by tiejudge" in table.stdout and "inconclusive" in table.stdout
    assert "Cohen's kappa 0.00 against 12 labelled pairs" in table.stdout
    out = tmp_path / "review.html"
    made = run_harness("report", "-b", "fake", "-c", "fake2", "-o", str(out), "--db", str(judged_db))
    assert made.returncode == 0, made.stderr
    dom = check_in_browser(out, tmp_path)
    section = dom.split('id="judged"', 1)[1].split("</section>", 1)[0]
    assert "Judge: tiejudge." in section and "Cohen's kappa 0.00" in section and "inconclusive" in section


def test_a_judge_of_the_candidate_s_family_is_refused(judged_db: Path, profiles: Path) -> None:
    refused = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "fake2", "--db", str(judged_db))
    assert refused.returncode == 2
    assert "judge 'fake2' is one of the sides it would judge" in one_error_line(refused)
    (profiles / "cousin.toml").write_text((profiles / "fake.toml").read_text().replace('model = "fake"',
                                                                                       'model = "fake-large"'))
    family_line = one_error_line(run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "cousin",
                                             "--db", str(judged_db)))
    assert "same model family ('fake')" in family_line and "--allow-self-judge" in family_line
    assert query(judged_db, "select count(*) from judgements") == [(0,)]
    allowed = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "cousin", "--limit", "2",
                          "--allow-self-judge", "--db", str(judged_db))
    assert allowed.returncode == 0, allowed.stderr


def test_calibration_of_a_constant_judge(judged_db: Path, tmp_path: Path) -> None:
    """Always 'first' in both orders reads as a tie every time: agreement is the share of tie labels,
    and kappa is 0 (no better than chance)."""
    result = run_harness("judge", "calibrate", "--judge", "firstjudge", "--labels", str(LABELS), "--db", str(judged_db))
    assert result.returncode == 0, result.stderr
    assert "agreement 25%, Cohen's kappa 0.000, 0 unreadable" in result.stdout
    stored = query(judged_db, "select n, agreement, kappa, confusion, labels_file from judge_calibrations")
    assert stored[0][:3] == (12, 0.25, 0.0) and stored[0][4] == "labels.jsonl"
    assert json.loads(stored[0][3])["A"] == {"A": 0, "B": 0, "tie": 5}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(LABELS.read_text().splitlines()[0] + "\n" + json.dumps({"request": "q", "answer_a": "a",
                                                                            "answer_b": "b", "label": "maybe"}) + "\n")
    refused = run_harness("judge", "calibrate", "--judge", "firstjudge", "--labels", str(bad), "--db", str(judged_db))
    assert refused.returncode == 2 and "line 2 label 'maybe' is not A, B or tie" in one_error_line(refused)


def test_verdicts_grades_families_and_kappa() -> None:
    assert pairwise_verdict("A is wrong... [[B]]") == "B" and pairwise_verdict("[[A]] no, [[C]]") == "tie"
    assert pairwise_verdict("I cannot decide.") is None
    assert rubric_grade("Reason: fine.\nGrade: PASS", "pass-fail") == 1.0 and rubric_grade("Grade: 4", "1-5") == 0.75
    assert rubric_grade("no grade", "1-5") is None
    assert combine("B", "A") == ("win", True) and combine("A", "B") == ("loss", True)
    assert combine("A", "A") == ("tie", False) and combine(None, "A") == ("tie", False)
    assert combine("tie", "tie") == ("tie", True)
    assert family("HuggingFaceTB/SmolLM2-135M-Instruct") == family("smollm2") == "smollm"
    assert family("gpt-4o-mini") == family("gpt-4o") == "gpt" != family("Qwen/Qwen2.5-7B-Instruct")
    # Cohen's classic example: 50 items, two raters, 0.7 agreement, 0.5 by chance -> kappa 0.4.
    labels = ["yes"] * 25 + ["no"] * 25
    verdicts = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    found = agreement(labels, verdicts)
    assert found.agreement == pytest.approx(0.7) and found.kappa == pytest.approx(0.4)


@pytest.mark.slow
def test_the_embedded_model_judges_through_llamacpp(judged_db: Path, llamacpp_server,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    env = {"LLAMACPP_BASE_URL": llamacpp_server.base_url}
    result = run_harness("judge", "pairwise", "-b", "fake", "-c", "fake2", "--judge", "llamacpp", "--limit", "1",
                         "--db", str(judged_db), env=env)
    assert result.returncode == 0, result.stderr
    rows = query(judged_db, "select outcome, reply_1, reply_2, judge_model_reported, error from judgements")
    assert len(rows) == 3 and all(r[1] and r[2] and r[3] and r[4] is None for r in rows)
    assert {r[0] for r in rows} <= {"win", "tie", "loss"}
    labels = tmp_path / "labels.jsonl"  # four of the shipped labels: A, B, tie, A
    labels.write_text("\n".join(LABELS.read_text().splitlines()[i] for i in (0, 1, 4, 5)) + "\n")
    calibrated = run_harness("judge", "calibrate", "--judge", "llamacpp", "--labels", str(labels),
                             "--db", str(judged_db), env=env)
    assert calibrated.returncode == 0, calibrated.stderr
    assert re.search(r"on 4 labelled examples: agreement \d+%, Cohen's kappa (-?\d\.\d{3}|undefined)",
                     calibrated.stdout)
    assert query(judged_db, "select count(*) from judge_calibrations where judge = 'llamacpp'") == [(1,)]


def test_judged_traffic_is_compared_but_five_docs_decide_nothing(judged_db: Path, tasks: Path,
                                                                   tmp_path: Path) -> None:
    """Replayed traffic has no gold answers for free text: a judge's pairwise verdict stands in; on five
    logged requests no test at 95% can decide, and the verdict says how many docs could."""
    db = tmp_path / "traffic.duckdb"
    imported = run_harness("traffic", "import", str(ROOT / "tests" / "data" / "traffic" / "log.jsonl"),
                           "--name", "support", "--incumbent", "gpt-4o", "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    assert run_harness("eval", "-p", "fake", "-s", "support", "--db", str(db)).returncode == 0
    judged = run_harness("judge", "pairwise", "-b", "gpt-4o", "-c", "fake", "--suite", "support",
                         "--judge", "tiejudge", "--db", str(db))
    assert judged.returncode == 0, judged.stderr
    # Unsupported answers (tools, json_schema) are answers of a kind: judged like the rest; 5 docs in all.
    assert "5 docs (tie 5); position consistency 100%" in judged.stdout
    shown = json.loads(run_harness("compare", "-b", "gpt-4o", "-c", "fake", "--suite", "support", "--db", str(db),
                                   "-f", "json").stdout)
    overall = shown["judged"]["rows"][-1]
    assert overall["task"] == "OVERALL" and overall["n"] == 5 and overall["verdict"] == "too few documents"
    assert overall["min_n"] > 5 and overall["ci_low"] >= -1 and overall["ci_high"] <= 1
    out = tmp_path / "support.html"
    assert run_harness("report", "-b", "gpt-4o", "-c", "fake", "--suite", "support", "-o", str(out),
                       "--db", str(db)).returncode == 0
    assert "Judge: tiejudge." in out.read_text() and "too few docs (need" in out.with_suffix(".md").read_text()


def test_rubric_grades_are_stored_as_scores(judged_db: Path, profiles: Path, tmp_path: Path) -> None:
    _judge_profile(profiles, "grader", "Correct and brief.\nGrade: PASS")
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("A good answer gives only the requested value, nothing else.")
    graded = run_harness("judge", "rubric", "-c", "fake2", "--judge", "grader", "--rubric", str(rubric),
                         "--limit", "2", "--db", str(judged_db))
    assert graded.returncode == 0, graded.stderr
    assert "6 docs (pass 6)" in graded.stdout
    rows = query(judged_db, "select mode, score, verdict_1, rubric_hash is not null, run_id is not null "
                            "from judgements")
    assert rows == [("rubric", 1.0, "pass", True, True)] * 6
    # Both sides graded by the same judge and rubric: a paired comparison of the grades.
    assert run_harness("judge", "rubric", "-c", "fake", "--judge", "grader", "--rubric", str(rubric), "--limit", "2",
                       "--db", str(judged_db)).returncode == 0
    shown = json.loads(run_harness("compare", "-b", "fake", "-c", "fake2", "--db", str(judged_db), "-f", "json").stdout)
    assert [(r["n"], r["gap"], r["verdict"]) for r in shown["judged"]["rubric"]] == [(2, 0.0, "too few documents")] * 3
    missing = run_harness("judge", "rubric", "-c", "fake2", "--judge", "grader", "--rubric", str(tmp_path / "no.txt"),
                          "--db", str(judged_db))
    assert missing.returncode == 2 and "rubric file" in one_error_line(missing)
