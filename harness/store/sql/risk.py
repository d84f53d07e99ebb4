"""The lock-in risk score: its parts are stored (`risk_parts`), combined here in SQL so the formula
is visible. docs/lockin-risk.md has the formula.

`lh_risk_score7` weighs the seven parts (quality, infeasible, features, openness, price, retirement,
drift); `risk_scores` and `lockin_risk` use it. (Its five-part predecessor `lh_risk_score` is retired:
harness.store.sql drops it from older databases.)
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# Each part is in [0, 1] (1 = most locked in); the score is their weighted mean on a 0-100 scale.
LH_RISK_SCORE7 = Definition("lh_risk_score7", "macro", """
    create or replace macro lh_risk_score7(quality, infeasible, features, openness, price, retirement, drift,
                                           w_quality, w_infeasible, w_features, w_openness, w_price,
                                           w_retirement, w_drift) as
        100.0 * (w_quality * quality + w_infeasible * infeasible + w_features * features + w_openness * openness
                 + w_price * price + w_retirement * retirement + w_drift * drift)
        / nullif(w_quality + w_infeasible + w_features + w_openness + w_price + w_retirement + w_drift, 0)
""")

RISK_SCORES = Definition("risk_scores", "view", """
    create or replace view risk_scores as
        select *, lh_risk_score7(quality, infeasible, features, openness, price, retirement, drift,
                                 w_quality, w_infeasible, w_features, w_openness, w_price, w_retirement, w_drift)
                  as score
        from risk_parts
""")

# Per incumbent and suite, the candidate with the lowest score (the way out that locks in least).
LOCKIN_RISK = Definition("lockin_risk", "view", """
    create or replace view lockin_risk as
        select incumbent, suite, candidate as best_candidate, score, quality, infeasible, features, openness, price,
               retirement, drift, w_quality, w_infeasible, w_features, w_openness, w_price, w_retirement, w_drift,
               margin, computed_at, detail
        from risk_scores
        qualify row_number() over (partition by incumbent, suite order by score, candidate) = 1
""")

DEFINITIONS: list[Definition] = [LH_RISK_SCORE7, RISK_SCORES, LOCKIN_RISK]
