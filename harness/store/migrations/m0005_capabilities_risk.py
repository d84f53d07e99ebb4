"""Migration 0005_capabilities_risk: probed capabilities, the features each run's suite needs, and the
lock-in risk score (parts stored, combined in SQL so the formula is visible).

Shipped SQL is frozen: later changes go in a new migration. docs/lockin-risk.md has the formula.
"""

from __future__ import annotations

import duckdb

_TABLES = """
    alter table runs add column suite_features varchar[];
    create table capabilities (
        provider varchar not null, profile_hash varchar not null, capability varchar not null,
        status varchar not null, value varchar, evidence json, probed_at timestamp default current_timestamp,
        primary key (provider, capability));
    create table risk_parts (
        incumbent varchar not null, candidate varchar not null, suite varchar not null, margin double not null,
        quality double not null, infeasible double not null, features double not null, openness double not null,
        price double not null, w_quality double not null, w_infeasible double not null, w_features double not null,
        w_openness double not null, w_price double not null, detail json,
        computed_at timestamp default current_timestamp, primary key (incumbent, candidate, suite));
"""

# Each part is in [0, 1] (1 = most locked in); the score is their weighted mean on a 0-100 scale.
_SCORE = """
    create macro lh_risk_score(quality, infeasible, features, openness, price,
                               w_quality, w_infeasible, w_features, w_openness, w_price) as
        100.0 * (w_quality * quality + w_infeasible * infeasible + w_features * features
                 + w_openness * openness + w_price * price)
        / nullif(w_quality + w_infeasible + w_features + w_openness + w_price, 0);
    create view risk_scores as
        select *, lh_risk_score(quality, infeasible, features, openness, price,
                                w_quality, w_infeasible, w_features, w_openness, w_price) as score
        from risk_parts;
    create view lockin_risk as
        select incumbent, suite, candidate as best_candidate, score, quality, infeasible, features, openness, price,
               w_quality, w_infeasible, w_features, w_openness, w_price, margin, computed_at, detail
        from risk_scores
        qualify row_number() over (partition by incumbent, suite order by score, candidate) = 1;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_TABLES)
    con.execute(_SCORE)
