"""Which API features a provider has, from the database: its probe results first, else what its
profile declares. A feature a suite needs and the candidate lacks is a capability gap."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from harness.config.features import FEATURES
from harness.store.reads import latest_profile

LACKING = ("fail", "unsupported", "declared-missing")
UNVERIFIED = ("error", "unknown")


def feature_status(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, dict[str, Any]]:
    """feature -> {status, source, evidence}. Status: a probe's pass/fail/unsupported/error, else
    declared / declared-missing from the profile, else unknown."""
    probed = {row[0]: (row[1], row[2]) for row in con.execute(
        "select capability, status, evidence from capabilities where provider = ?", [provider]).fetchall()}
    stored = latest_profile(con, provider)
    declared = (stored["profile"].get("capabilities") or {}) if stored else {}
    statuses: dict[str, dict[str, Any]] = {}
    for feature in FEATURES:
        if feature in probed:
            status, evidence = probed[feature]
            statuses[feature] = {"status": status, "source": "probe", "evidence": json.loads(evidence or "{}")}
        elif feature in declared:
            statuses[feature] = {"status": "declared" if declared[feature] else "declared-missing",
                                 "source": "profile", "evidence": {}}
        else:
            statuses[feature] = {"status": "unknown", "source": "none", "evidence": {}}
    return statuses


def needed_features(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[str]:
    """The union of the features the suites of these runs declare they need."""
    if not run_ids:
        return []
    rows = con.execute("select distinct unnest(suite_features) from runs where run_id in (select unnest(?))",
                       [run_ids]).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def capability_gaps(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str,
                    run_ids: list[str]) -> list[dict[str, Any]]:
    """For each needed feature the candidate lacks or has not shown: both sides' status and evidence."""
    needed = needed_features(con, run_ids)
    base, cand = feature_status(con, baseline), feature_status(con, candidate)
    gaps = []
    for feature in needed:
        status = cand[feature]["status"]
        if status in LACKING or status in UNVERIFIED:
            gaps.append({
                "feature": feature, "candidate_status": status, "candidate_source": cand[feature]["source"],
                "baseline_status": base[feature]["status"], "gap": "missing" if status in LACKING else "unverified",
                "evidence": cand[feature]["evidence"],
            })
    return gaps


def side_provider(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    row = con.execute("select provider from runs where run_id = ?", [run_id]).fetchone()
    return str(row[0]) if row else run_id
