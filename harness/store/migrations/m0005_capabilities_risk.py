"""Migration 0005_capabilities_risk: probed capabilities, the features each run's suite needs, and the
parts of the lock-in risk score (stored; combined in SQL so the formula is visible).

The score's macro and views now live in harness/store/sql/risk.py: a change to one is an edit of its
one definition, re-applied by hash; a table change is a new migration. docs/lockin-risk.md has the formula.
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


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_TABLES)
