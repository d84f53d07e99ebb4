"""Migration 0012_operations: drift checks, and two more parts of the lock-in risk score.

- `drift_checks`: one row per task of each `harness drift` comparison of two runs of one profile:
  the paired change with its interval and p-value, the share of identical answers, how many docs
  flipped, whether the reported model or the system fingerprint changed, and the verdict.
- `risk_parts` gains `retirement` (how close the incumbent's announced retirement is: 1 once retired,
  falling linearly to 0 a year out; 0 with none announced) and `drift` (1 minus the share of identical
  answers in the incumbent's latest drift check; 0 when never checked), with weights `w_retirement`
  and `w_drift` (0 for rows stored before, so their scores stay as they were).
- `lh_risk_score7` weighs the seven parts; `risk_scores` and `lockin_risk` use it.
Shipped SQL is frozen: later changes go in a new migration.
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
    create macro lh_risk_score7(quality, infeasible, features, openness, price, retirement, drift,
                                w_quality, w_infeasible, w_features, w_openness, w_price, w_retirement, w_drift) as
        100.0 * (w_quality * quality + w_infeasible * infeasible + w_features * features + w_openness * openness
                 + w_price * price + w_retirement * retirement + w_drift * drift)
        / nullif(w_quality + w_infeasible + w_features + w_openness + w_price + w_retirement + w_drift, 0);
    create or replace view risk_scores as
        select *, lh_risk_score7(quality, infeasible, features, openness, price, retirement, drift,
                                 w_quality, w_infeasible, w_features, w_openness, w_price, w_retirement, w_drift)
                  as score
        from risk_parts;
    create or replace view lockin_risk as
        select incumbent, suite, candidate as best_candidate, score, quality, infeasible, features, openness, price,
               retirement, drift, w_quality, w_infeasible, w_features, w_openness, w_price, w_retirement, w_drift,
               margin, computed_at, detail
        from risk_scores
        qualify row_number() over (partition by incumbent, suite order by score, candidate) = 1;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DRIFT)
    con.execute(_RISK)
