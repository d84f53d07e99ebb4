"""Every paired document of a comparison with its outcome: what the sample browser shows, and what
a user filters in SQL (`select outcome, count(*) from pair_outcomes('gpt-4o', 'smollm2') group by 1`).

On the task's primary score (`sample_classes`), the candidate's outcome against the baseline is the
first that applies:

  errored     either side's request failed (not an answer: left out of the gap, as in quality_gap)
  lost        the candidate scored below the baseline
  won         the candidate scored above the baseline
  tied        equal scores, the candidate correct (score >= 0.5)
  both wrong  equal scores, neither correct

A request the provider could not serve ('unsupported: <feature>') is an answer scored 0, as in the
gap; `unsupported` names the feature, on either side.
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# The feature an 'unsupported: <feature>' answer lacked; null for any other answer.
LH_UNSUPPORTED_FEATURE = Definition("lh_unsupported_feature", "macro", """
    create or replace macro lh_unsupported_feature(error) as
        case when lh_unsupported(error) then trim(substr(error, length('unsupported: ') + 1)) end
""")

PAIR_OUTCOMES = Definition("pair_outcomes", "macro", """
    create or replace macro pair_outcomes(baseline, candidate, suite_name := null) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)),
        b as (select k.* from sample_classes k join p on k.run_id = p.baseline_run and k.task = p.task),
        c as (select k.* from sample_classes k join p on k.run_id = p.candidate_run and k.task = p.task)
        select p.suite, task, doc_id, p.baseline_run, p.candidate_run, p.metric,
               b.score as baseline_score, c.score as candidate_score,
               b.failure_class as baseline_class, c.failure_class as candidate_class,
               case when b.failure_class = 'error' or c.failure_class = 'error' then 'errored'
                    when c.score < b.score then 'lost'
                    when c.score > b.score then 'won'
                    when c.failure_class = 'correct' then 'tied'
                    else 'both wrong' end as outcome,
               coalesce(lh_unsupported_feature(c.error), lh_unsupported_feature(b.error)) as unsupported
        from b join c using (task, doc_id) join p using (task)
""")

DEFINITIONS: list[Definition] = [LH_UNSUPPORTED_FEATURE, PAIR_OUTCOMES]
