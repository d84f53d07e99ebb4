"""Constraints that failed open, and how a run held its structured outputs.

Every structured output is checked when stored (`generations.constraint_asked`,
`constraint_violation`; harness.traffic.conformance) whatever held it (`json_decoding`: 'api',
'constrained:<engine>', 'unconstrained'). A violation where a constraint was requested (the API's
JSON mode or function calling, or a grammar in local decoding) means the constraint failed open: a
server that ignored the format, an engine that could not hold the schema.
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# Whether something was asked to hold the output to its structure (not just the prompt).
LH_CONSTRAINT_REQUESTED = Definition("lh_constraint_requested", "macro", """
    create or replace macro lh_constraint_requested(json_decoding) as
        coalesce(json_decoding = 'api' or json_decoding like 'constrained:%', false)
""")

# Per run, task, what held the outputs and how they broke it: checked outputs by violation (null: kept).
CONSTRAINT_CHECKS = Definition("constraint_checks", "view", """
    create or replace view constraint_checks as
        select g.run_id, r.provider, r.suite, g.task, g.json_decoding,
               lh_constraint_requested(g.json_decoding) as constraint_requested,
               g.constraint_asked, g.constraint_violation, count(*) as n
        from generations g join runs r using (run_id)
        where g.constraint_asked is not null and g.error is null
        group by all
""")

# Per run, what held its structured outputs: one value, or 'mixed'. Runs of one provider and suite that
# differ here are the with/without constrained decoding pair of the what-if.
RUN_DECODING = Definition("run_decoding", "view", """
    create or replace view run_decoding as
        select g.run_id, r.provider, r.suite, r.started_at,
               case when count(distinct coalesce(g.json_decoding, '')) = 1 then any_value(g.json_decoding)
                    else 'mixed' end as json_decoding,
               count(*) as n_structured
        from generations g join runs r using (run_id)
        where g.constraint_asked is not null and r.status = 'complete' and coalesce(r.source, 'live') = 'live'
        group by all
""")

DEFINITIONS: list[Definition] = [LH_CONSTRAINT_REQUESTED, CONSTRAINT_CHECKS, RUN_DECODING]
