"""Helper macros (names start `lh_`): how an error text reads. (The distribution helpers that the
normal-theory intervals used are gone with them: the statistics are exact now, harness.analysis.betting.)
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

LH_UNSUPPORTED = Definition("lh_unsupported", "macro", """
    create or replace macro lh_unsupported(error) as coalesce(error like 'unsupported: %', false)
""")

LH_FAILURE = Definition("lh_failure", "macro", """
    create or replace macro lh_failure(error) as case when lh_unsupported(error) then null else error end
""")

DEFINITIONS: list[Definition] = [LH_UNSUPPORTED, LH_FAILURE]
