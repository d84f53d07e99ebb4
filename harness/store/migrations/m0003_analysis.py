"""Migration 0003_analysis: the primary metric of each task, and the SQL that compares providers.

This migration marks each task's primary (metric, filter) in `task_scores`. Its helper macros,
views and comparison macros now live in harness/store/sql/ (helpers.py, runs.py, comparison.py):
a change to one is an edit of its one definition, re-applied by hash; a table change is a new migration.
"""

from __future__ import annotations

import duckdb

# Which (metric, filter) of a task is compared: the first metric and first filter in the task's own
# config, marked at write time. Runs stored earlier get the alphabetically first pair.
_PRIMARY = """
    alter table task_scores add column is_primary boolean default false;
    alter table task_scores add column gen_kwargs json;
    update task_scores t set is_primary = true
    from (select run_id, task, metric, filter from (
            select run_id, task, metric, filter,
                   row_number() over (partition by run_id, task order by metric, filter) as rn
            from task_scores) where rn = 1) p
    where t.run_id = p.run_id and t.task = p.task and t.metric = p.metric and t.filter = p.filter;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Add the primary-metric columns and mark each task's primary score in stored runs."""
    con.execute(_PRIMARY)
