"""What constrained decoding is worth: a candidate with a run whose JSON outputs a grammar held and a
run whose outputs nothing held, on the same suite, gets both gaps in `compare` and the report, and the
share of the loss that decoding fixes, with the comparison's paired intervals. The fake provider stands
in for a local model (its `json_decoding` setting is the run setting); real DuckDB files and CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_harness
from tests.test_fail_open import write_log


def _ok(*args: str) -> str:
    result = run_harness(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_compare_shows_the_gap_with_and_without_constrained_decoding(tasks: Path, profiles: Path,
                                                                     tmp_path: Path) -> None:
    db = str(tmp_path / "h.duckdb")
    write_log(tmp_path / "log.jsonl")
    _ok("traffic", "import", str(tmp_path / "log.jsonl"), "--name", "fo", "--incumbent", "gpt-4o", "--db", db)
    compare = ("compare", "-b", "gpt-4o", "-c", "fake", "--suite", "fo", "--db", db)
    profile = profiles / "fake.toml"
    original = profile.read_text(encoding="utf-8")
    profile.write_text(original.replace("[fake]\n", '[fake]\njson_decoding = "unconstrained"\n'), encoding="utf-8")
    _ok("eval", "-p", "fake", "-s", "fo", "--db", db)
    assert "what-if" not in _ok(*compare)  # one kind of run only: nothing to compare it with
    profile.write_text(original.replace("[fake]\n", '[fake]\njson_decoding = "constrained:fake"\n'), encoding="utf-8")
    _ok("eval", "-p", "fake", "-s", "fo", "--db", db)

    shown = json.loads(_ok(*compare, "--format", "json"))["what_if_decoding"]
    assert shown["constrained"] == "constrained:fake"
    rows = {r["task"]: r for r in shown["rows"]}
    json_row = rows["fo_json"]
    # The incumbent answered every JSON request; unconstrained the fake answers prose (all 4 lost), held by
    # its grammar it answers the schema's value (none lost): decoding fixes the whole loss.
    assert (json_row["n"], json_row["gap_unconstrained"], json_row["gap_constrained"], json_row["fixed"]) == (
        4, -1.0, 0.0, 1.0)
    assert json_row["share_fixed"] == 1.0 and json_row["ci_fixed"][1] == 1.0
    text = rows["fo_text"]  # a loss that no decoding touches: plain text, the same answers both ways
    assert text["gap_unconstrained"] < 0 and text["fixed"] == 0.0 and text["share_fixed"] == 0.0
    assert "OVERALL" in rows
    table = " ".join(_ok(*compare).split())
    assert "what-if: fake with constrained decoding (constrained:fake" in table and "100%" in table

    _ok("report", "-b", "gpt-4o", "-c", "fake", "--suite", "fo", "-o", str(tmp_path / "r.html"), "--db", db)
    for name in ("r.html", "r.md"):
        assert "What-if: fake with constrained decoding (constrained:fake" in (tmp_path / name).read_text(
            encoding="utf-8")
