"""A vendor's silent change, caught: the same profile run twice against a loopback server whose model
is swapped between the runs ("a new snapshot"), compared by `harness drift` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.checks import query
from tests.conftest import run_harness
from tests.servers import ScriptedServer
from tests.test_errors_vote import SCRIPTED


def _suite(tmp_path: Path, db: Path) -> None:
    """Twelve requests whose reference is what the first snapshot answers; half are marked to drift."""
    lines = []
    for i in range(12):
        content = f"Question {i:02d} {'[drifts]' if i % 2 else '[stays]'} tail-{i:02d}"
        lines.append({"messages": [{"role": "user", "content": content}], "reference": f"ok {content[-12:]}"})
    path = tmp_path / "nightly.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    imported = run_harness("traffic", "import", str(path), "--name", "nightly", "--db", str(db))
    assert imported.returncode == 0, imported.stderr


def _eval(db: Path) -> None:
    result = run_harness("eval", "-p", "scripted", "-s", "nightly", "--no-cache", "--db", str(db))
    assert result.returncode == 0, result.stderr


def test_a_new_snapshot_is_caught_and_an_unchanged_one_is_not(tasks: Path, profiles: Path, isolated_runs: Path,
                                                              tmp_path: Path) -> None:
    db = isolated_runs / "drift.duckdb"
    _suite(tmp_path, db)
    with ScriptedServer() as server:
        (profiles / "scripted.toml").write_text(SCRIPTED.format(url=server.base_url, timeout=10))
        _eval(db)
        _eval(db)
        same = run_harness("drift", "-p", "scripted", "-s", "nightly", "--fail-on", "regression", "--db", str(db),
                           "-f", "json")
        assert same.returncode == 0, same.stderr
        unchanged = json.loads(same.stdout)
        assert [(r["identical_share"], r["flipped"], r["verdict"]) for r in unchanged["rows"]] == [
            (1.0, 0, "no significant change")]
        server.snapshot = "2024-11-20"
        _eval(db)
    changed = run_harness("drift", "-p", "scripted", "-s", "nightly", "--fail-on", "regression", "--db", str(db))
    assert changed.returncode == 1
    assert changed.stderr.strip().startswith("error: regression on nightly_text")
    assert "model: scripted-1 -> scripted-2024-11-20 (changed)" in changed.stdout
    assert "fingerprint: fp_scripted -> fp_2024-11-20 (changed)" in changed.stdout
    assert changed.stdout.count("flipped: nightly_text doc") == 6
    assert "a new snapshot answers otherwise" in changed.stdout
    rows = query(db, "select change, ci_high, identical_share, flipped, verdict, model_changed, fingerprint_changed "
                     "from drift_checks order by checked_at")
    assert rows[0][2:] == (1.0, 0, "no significant change", False, False)
    change, ci_high, identical, flipped, verdict, model_changed, fingerprint_changed = rows[-1]
    assert change < 0 and ci_high < 0 and identical == 0.5 and flipped == 6 and verdict == "regression"
    assert model_changed and fingerprint_changed
    # Two run ids given explicitly compare the same way; a single run is refused in one line.
    run_ids = [r[0] for r in query(db, "select run_id from runs order by started_at")]
    explicit = run_harness("drift", "-p", "scripted", "-s", "nightly", "--runs", run_ids[0], "--runs", run_ids[2],
                           "--db", str(db), "-f", "json")
    assert json.loads(explicit.stdout)["later_run"] == run_ids[2]
    too_early = run_harness("drift", "-p", "scripted", "-s", "nightly", "--since", "2000-01-01", "--db", str(db))
    assert too_early.returncode == 2 and "no complete run before 2000-01-01" in too_early.stderr
