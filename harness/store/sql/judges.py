"""The statistics a judge's verdicts feed (the verdicts themselves are in the `judgements` table).

- `judged_docs(...)`: the latest pairwise verdict per doc on both sides' latest runs (+1/0/-1).
- `judged_gap(baseline, candidate, judge_name := null, suite_name := null, margin := 0.05)`: per
  task and weighted OVERALL, wins / ties / losses of the candidate, the mean of +1/0/-1 with an exact
  95% interval, a non-inferiority verdict ('not worse' when the interval's low end is above -margin,
  'worse' when its high end is below it), and the position-consistency rate (share of docs whose two
  orders agreed). A judge whose two orders agree on fewer than `min_consistency` (half) of the docs
  says more about the order than about the answers: its verdict is 'judge inconsistent'.
- `rubric_pairs(...)` / `rubric_gap(...)`: both sides' rubric grades by the same judge and rubric,
  paired by doc: means, gap, exact interval, the same non-inferiority verdict.
Intervals, p-values and verdicts are those `harness compare` computed and stored (`gap_tests`, kinds
'judged' and 'rubric'; see harness/store/sql/comparison.py); otherwise 'not computed: run harness compare'.
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# The latest pairwise verdict per doc on both sides' latest runs, with its task's suite weight.
JUDGED_DOCS = Definition("judged_docs", "macro", """
    create or replace macro judged_docs(baseline, candidate, judge_name := null, suite_name := null) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name))
        select jd.*, p.weight, p.suite as pair_suite from judgements jd
        join p on jd.baseline_run = p.baseline_run and jd.candidate_run = p.candidate_run and jd.task = p.task
        where jd.mode = 'pairwise' and jd.error is null and (judge_name is null or jd.judge = judge_name)
        qualify row_number() over (partition by jd.task, jd.doc_id order by jd.judged_at desc) = 1
""")

# Per task and weighted OVERALL; a judge whose two orders agree on fewer than `min_consistency` of the
# docs is 'judge inconsistent' whatever the interval says.
JUDGED_GAP = Definition("judged_gap", "macro", """
    create or replace macro judged_gap(baseline, candidate, judge_name := null, suite_name := null,
                                       margin := 0.05, min_consistency := 0.5) as table
        with j as (select * from judged_docs(baseline, candidate, judge_name := judge_name,
                                             suite_name := suite_name)),
        per_task as (
            select any_value(pair_suite) as suite, task, any_value(weight) as weight, any_value(judge) as judge,
                   count(*) as n, count(*) filter (where outcome = 'win') as wins,
                   count(*) filter (where outcome = 'tie') as ties, count(*) filter (where outcome = 'loss') as losses,
                   avg(score) as gap, avg(consistent::integer) as position_consistency,
                   count(*) filter (where verdict_1 = 'unreadable' or verdict_2 = 'unreadable') as unreadable,
                   sum(cost_usd) as judge_cost_usd,
                   any_value(baseline_run) || '|' || any_value(candidate_run) || '|' || any_value(judge) as pair_key,
                   0 as part
            from j group by task),
        total as (
            select any_value(suite) as suite, 'OVERALL' as task, 1.0 as weight, any_value(judge) as judge,
                   sum(n)::bigint as n, sum(wins)::bigint as wins, sum(ties)::bigint as ties,
                   sum(losses)::bigint as losses, sum(weight * gap) / sum(weight) as gap,
                   sum(n * position_consistency) / sum(n) as position_consistency,
                   sum(unreadable)::bigint as unreadable, sum(judge_cost_usd) as judge_cost_usd,
                   md5(string_agg(task || ':' || pair_key, ',' order by task)) as pair_key, 1 as part
            from per_task having count(*) > 0),
        both_sides as (
            select suite, task, weight / sum(weight) over () as weight, judge, n, wins, ties, losses, gap,
                   position_consistency, unreadable, judge_cost_usd, pair_key, part from per_task
            union all by name select * from total),
        stored as (select * from gap_tests where kind = 'judged' and at_margin = margin)
        select s.suite, s.task, s.weight, s.judge, s.n, s.wins, s.ties, s.losses, s.wins / s.n as win_rate,
               s.losses / s.n as loss_rate, s.gap, t.ci_low, t.ci_high, t.p_value, t.p_noninferior, t.p_inferior,
               case when s.position_consistency < min_consistency then 'judge inconsistent'
                    else coalesce(t.verdict, 'not computed: run harness compare') end as verdict,
               t.min_n, t.samples_needed, coalesce(t.method, 'not computed') as method,
               s.position_consistency, s.unreadable, s.judge_cost_usd, margin as margin, s.pair_key
        from both_sides s left join stored t on t.pair_key = s.pair_key and t.task = s.task and t.n = s.n
        order by s.part, s.task
""")

# Rubric grades of both sides' latest runs by the same judge and rubric (the latest grade per doc),
# paired by doc.
RUBRIC_PAIRS = Definition("rubric_pairs", "macro", """
    create or replace macro rubric_pairs(baseline, candidate, judge_name := null, suite_name := null) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)),
        graded as (
            select jd.*, p.baseline_run as b_run, p.candidate_run as c_run from judgements jd join p on jd.task = p.task
            where jd.mode = 'rubric' and jd.error is null and jd.score is not null
              and (judge_name is null or jd.judge = judge_name) and jd.run_id in (p.baseline_run, p.candidate_run)
            qualify row_number() over (partition by jd.run_id, jd.task, jd.doc_id, jd.judge, jd.rubric_hash
                                       order by jd.judged_at desc) = 1)
        select b.task, b.doc_id, b.judge, b.rubric_hash, b.score as b_score, c.score as c_score, b.b_run, b.c_run
        from graded b join graded c using (task, doc_id, judge, rubric_hash)
        where b.run_id = b.b_run and c.run_id = c.c_run
""")

RUBRIC_GAP = Definition("rubric_gap", "macro", """
    create or replace macro rubric_gap(baseline, candidate, judge_name := null, suite_name := null,
                                       margin := 0.05) as table
        with agg as (
            select task, any_value(judge) as judge, count(*) as n, avg(b_score) as baseline_mean,
                   avg(c_score) as candidate_mean, avg(c_score - b_score) as gap,
                   any_value(b_run) || '|' || any_value(c_run) || '|' || any_value(judge) as pair_key
            from rubric_pairs(baseline, candidate, judge_name := judge_name, suite_name := suite_name)
            group by task),
        stored as (select * from gap_tests where kind = 'rubric' and at_margin = margin)
        select a.task, a.judge, a.n, a.baseline_mean, a.candidate_mean, a.gap, t.ci_low, t.ci_high, t.p_value,
               t.p_noninferior, t.p_inferior, coalesce(t.verdict, 'not computed: run harness compare') as verdict,
               t.min_n, t.samples_needed, coalesce(t.method, 'not computed') as method, a.pair_key
        from agg a left join stored t on t.pair_key = a.pair_key and t.task = a.task and t.n = a.n
        order by a.task
""")

DEFINITIONS: list[Definition] = [JUDGED_DOCS, JUDGED_GAP, RUBRIC_PAIRS, RUBRIC_GAP]
