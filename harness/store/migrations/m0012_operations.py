"""Migration 0012_operations: drift checks, and two more parts of the lock-in risk score.

- `drift_checks`: one row per task of each `harness drift` comparison of two runs of one profile:
  the paired change with its interval and p-value, the share of identical answers, how many docs
  flipped, whether the reported model or the system fingerprint changed, and the verdict.
- `risk_parts` gains `retirement` (how close the incumbent's announced retirement is: 1 once retired,
  falling linearly to 0 a year out; 0 with none announced) and `drift` (1 minus the share of identical
  answers in the incumbent's latest drift check; 0 when never checked), with weights `w_retirement`
  and `w_drift` (0 for rows stored before, so their scores stay as they were).
The macro `lh_risk_score7` that weighs the seven parts, and the views `risk_scores` and
`lockin_risk` that use it, now live in harness/store/sql/risk.py: a change to one is an edit of its
one definition, re-applied by hash; a table change is a new migration.
"""

from __future__ import annotations

import duckdb

_DRIFT = """
    create table drift_checks (
        provider varchar not null, suite varchar not null, earlier_run varchar not null, later_run varchar not null,
        task varchar not null, n integer, earlier_mean double, later_mean double, change double, ci_low double,
        ci_high double, p_value double, identical_share double, flipped integer, verdict varchar not null,
        margin double, model_changed boolean, fingerprint_changed boolean, earlier_identity json,
        later_identity json, checked_at timestamp not null,
        primary key (earlier_run, later_run, task, checked_at));
"""

_RISK = """
    alter table risk_parts add column retirement double default 0;
    alter table risk_parts add column drift double default 0;
    alter table risk_parts add column w_retirement double default 0;
    alter table risk_parts add column w_drift double default 0;
    update risk_parts set retirement = 0, drift = 0, w_retirement = 0, w_drift = 0;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DRIFT)
    con.execute(_RISK)
