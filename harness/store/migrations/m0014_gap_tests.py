"""Migration 0014_gap_tests: the statistics `harness compare` computed, for the SQL macros to show.

Exact intervals and verdicts need every doc's difference and a search that SQL does not carry
(harness.analysis.betting), so they are computed in Python and kept here, one row per compared task
and per OVERALL, keyed by what was compared:
- `kind`: 'quality' (`migration()` / `quality_gap()`), 'judged' (`judged_gap()`), 'rubric' (`rubric_gap()`);
- `pair_key`: 'baseline_run|candidate_run' for a task ('...|judge' for judged kinds); for OVERALL, md5
  of the tasks and run pairs it combines;
- `at_margin`: the verdict's margin (intervals and p-values do not depend on it; the verdict does).
The macros join on these and show `not computed: run harness compare` where nothing is stored.
"""

from __future__ import annotations

import duckdb

_TABLES = """
    create table gap_tests (
        kind varchar not null, pair_key varchar not null, task varchar not null, at_margin double not null,
        n integer, gap double, ci_low double, ci_high double, p_value double, p_noninferior double,
        p_inferior double, verdict varchar not null, min_n integer, samples_needed bigint, method varchar,
        note varchar, computed_at timestamp default current_timestamp,
        primary key (kind, pair_key, task, at_margin));
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_TABLES)
