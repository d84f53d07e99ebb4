"""Migration 0006_errors_do_not_vote: an errored generation is not an answer.

Runs record how many generations errored and their share (`runs.n_errors`, `runs.error_rate`).
Columns are only added, so queries written against 0003 keep working. The comparison macros that
leave errored docs out (harness/store/sql/comparison.py) and the helpers `lh_unsupported` and
`lh_failure` (harness/store/sql/helpers.py) now live in harness/store/sql/: a change to one is an
edit of its one definition, re-applied by hash; a table change is a new migration.
"""

from __future__ import annotations

import duckdb

# A request that needed a feature the provider lacks is answered 'unsupported: <feature>': not a
# failure of the run but a measured lock-in. The count is `lh_failure(error) is not null`, written
# out here: on a fresh database the migrations run before the macros are defined.
_RUN_COUNTS = """
    alter table runs add column n_errors integer;
    alter table runs add column error_rate double;
    update runs r set n_errors = g.n_errors, error_rate = g.n_errors / nullif(g.n, 0)
    from (select run_id,
                 count(*) filter (where error is not null and not coalesce(error like 'unsupported: %', false))
                     as n_errors,
                 count(*) as n
          from generations group by run_id) g
    where r.run_id = g.run_id;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_RUN_COUNTS)
