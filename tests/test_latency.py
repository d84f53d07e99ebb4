"""Latency is the answer's own time; waiting for a slot is recorded apart as queueing, and a local
batch engine's figures are labelled as what they are (time inside a shared batch)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.checks import query
from tests.conftest import run_harness
from tests.servers import ScriptedServer

ONE_AT_A_TIME = ('kind = "openai"\nmodel = "m"\nbase_url = "{url}"\n[openai]\nconcurrency = 1\n'
                 '[openness]\nclass = "proprietary"\nlicence = "proprietary"\nweights = false\ncode = false\n'
                 'data = false\n')


def test_api_latency_excludes_the_wait_for_a_slot(isolated_runs: Path, profiles: Path) -> None:
    """One request at a time, 0.25 s each: every latency stays near 0.25 s while the queue grows."""
    with ScriptedServer(delay_s=0.25) as server:
        (profiles / "serial.toml").write_text(ONE_AT_A_TIME.format(url=server.base_url))
        result = run_harness("eval", "-p", "serial", "-t", "smoke_choice", "--limit", "6", "--no-cache",
                             env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 0, result.stderr
    db = isolated_runs / "harness.duckdb"
    latency, queue = zip(*query(db, "select latency_ms, queue_ms from generations order by queue_ms"), strict=True)
    assert len(latency) == 6
    assert all(240 <= ms < 1000 for ms in latency), latency
    assert max(queue) >= 4 * 240, queue  # the last one waited for five others
    assert query(db, "select latency_basis from runs") == [("request",)]


def test_local_batches_record_queueing_and_are_labelled(isolated_runs: Path, tmp_path: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    for extra in (["-p", "fake"], ["-p", "smollm2", "--batch-size", "2"]):
        made = run_harness("eval", *extra, "-t", "smoke_choice", "--limit", "6")
        assert made.returncode == 0, made.stderr
    rows = query(db, "select g.latency_ms, g.queue_ms from generations g join runs r using (run_id)"
                     " where r.provider = 'smollm2'")
    assert len(rows) == 6 and all(latency > 0 and queue >= 0 for latency, queue in rows)
    assert max(queue for _, queue in rows) > 0  # two slots, six docs: some waited
    assert query(db, "select provider, latency_basis from runs order by provider") == [
        ("fake", "request"), ("smollm2", "batch")]
    shown = run_harness("compare", "-b", "fake", "-c", "smollm2", "--allow-mismatch")
    assert shown.returncode == 0, shown.stderr
    assert "note: smollm2: latency is each sample's time inside a local batch (throughput-bound)" in shown.stdout
    as_json = json.loads(run_harness("compare", "-b", "fake", "-c", "smollm2", "--allow-mismatch", "-f", "json").stdout)
    assert as_json["latency_basis"] == {"baseline": "request", "candidate": "batch"}
    out = tmp_path / "review.html"
    report = run_harness("report", "-b", "fake", "-c", "smollm2", "--allow-mismatch", "-o", str(out))
    assert report.returncode == 0, report.stderr
    assert "inside a local batch (throughput-bound)" in out.read_text()
