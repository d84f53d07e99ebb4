"""Migration 0011_judges: a judge's verdicts, stored with everything that produced them, and the
statistics they feed.

- `judgements`: one row per judged doc. Pairwise (`mode = 'pairwise'`): the baseline's and the
  candidate's answers, asked in both orders; `verdict_1` (baseline shown as A) and `verdict_2`
  (candidate shown as A) are what the judge said, read as the candidate's 'win', 'tie' or 'loss'
  ('unreadable' when no verdict was found); `outcome` is the candidate's win or loss only when both
  orders agree, else a tie; `score` +1 / 0 / -1. Rubric (`mode = 'rubric'`): one answer (`run_id`)
  graded once; `score` in [0, 1]. Each row keeps the judge's profile hash, the model and
  fingerprint it reported, the prompt's name and hash, both raw replies, tokens and cost.
- `judge_calibrations`: a judge measured against a team's labelled sample (agreement, Cohen's
  kappa, confusion table).
- `judged_gap(baseline, candidate, judge_name := null, suite_name := null, margin := 0.05)`: per
  task and weighted OVERALL, wins / ties / losses of the candidate, the mean of +1/0/-1 with a paired
  95% interval (t), a non-inferiority verdict ('not worse' when the interval's low end is above
  -margin, 'worse' when its high end is below it), and the position-consistency rate (share of docs
  whose two orders agreed). A judge whose two orders agree on fewer than `min_consistency` (half)
  of the docs says more about the order than about the answers: its verdict is 'judge inconsistent'.
- `rubric_gap(baseline, candidate, judge_name := null, suite_name := null, margin := 0.05)`: both
  sides' rubric grades by the same judge and rubric, paired by doc: means, gap, paired t interval,
  the same non-inferiority verdict.
Shipped SQL is frozen: later changes go in a new migration.
"""

from __future__ import annotations

import duckdb

_TABLES = """
    create table judgements (
        judgement_id varchar primary key, mode varchar not null, suite varchar, task varchar not null,
        doc_id integer not null, baseline_run varchar, candidate_run varchar, run_id varchar,
        judge varchar not null, judge_profile_hash varchar not null, judge_model_reported varchar,
        judge_fingerprint varchar, prompt_name varchar not null, prompt_hash varchar not null,
        rubric_hash varchar, reply_1 varchar, reply_2 varchar, verdict_1 varchar, verdict_2 varchar,
        outcome varchar, score double, consistent boolean, error varchar, input_tokens integer,
        output_tokens integer, cost_usd double, cached boolean, judged_at timestamp not null);
    create table judge_calibrations (
        calibration_id varchar primary key, judge varchar not null, judge_profile_hash varchar not null,
        mode varchar not null, prompt_hash varchar not null, labels_file varchar not null,
        labels_sha256 varchar not null, n integer not null, unreadable integer not null, agreement double,
        kappa double, confusion json, calibrated_at timestamp not null);
"""

_JUDGED_GAP = """
    create macro judged_gap(baseline, candidate, judge_name := null, suite_name := null, margin := 0.05,
                            min_consistency := 0.5) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)),
        j as (
            select jd.*, p.weight, p.suite as pair_suite from judgements jd
            join p on jd.baseline_run = p.baseline_run and jd.candidate_run = p.candidate_run and jd.task = p.task
            where jd.mode = 'pairwise' and jd.error is null and (judge_name is null or jd.judge = judge_name)
            qualify row_number() over (partition by jd.task, jd.doc_id order by jd.judged_at desc) = 1),
        per_task as (
            select any_value(pair_suite) as suite, task, any_value(weight) as weight, any_value(judge) as judge,
                   count(*) as n, count(*) filter (where outcome = 'win') as wins,
                   count(*) filter (where outcome = 'tie') as ties, count(*) filter (where outcome = 'loss') as losses,
                   avg(score) as gap, var_samp(score) as var_diff, avg(consistent::integer) as position_consistency,
                   count(*) filter (where verdict_1 = 'unreadable' or verdict_2 = 'unreadable') as unreadable,
                   sum(cost_usd) as judge_cost_usd
            from j group by task),
        est as (
            select *, sqrt(coalesce(var_diff, 0) / n) as se, lh_t975(greatest(n - 1, 1)) as q, 0 as part
            from per_task),
        total as (
            select any_value(suite) as suite, 'OVERALL' as task, 1.0 as weight, any_value(judge) as judge,
                   sum(n)::bigint as n, sum(wins)::bigint as wins, sum(ties)::bigint as ties,
                   sum(losses)::bigint as losses,
                   sum(weight * gap) / sum(weight) as gap,
                   sqrt(sum(weight ^ 2 * var_diff / n) filter (where n > 1)) / sum(weight) as se,
                   1.959963984540054 as q, sum(n * position_consistency) / sum(n) as position_consistency,
                   sum(unreadable)::bigint as unreadable, sum(judge_cost_usd) as judge_cost_usd, 1 as part
            from est having count(*) > 0),
        both_sides as (
            select suite, task, weight / sum(weight) over () as weight, judge, n, wins, ties, losses, gap, se, q,
                   position_consistency, unreadable, judge_cost_usd, part from est
            union all by name select * from total)
        select suite, task, weight, judge, n, wins, ties, losses, wins / n as win_rate, losses / n as loss_rate,
               gap, gap - q * se as ci_low, gap + q * se as ci_high,
               case when se > 0 and part = 1 then lh_p_normal(gap / se)
                    when se > 0 then lh_p_t(gap / se, greatest(n - 1, 1)) when gap = 0 then 1.0 else 0.0 end
                   as p_value,
               case when position_consistency < min_consistency then 'judge inconsistent'
                    when gap - q * se > -margin then 'not worse' when gap + q * se < -margin then 'worse'
                    else 'inconclusive' end as verdict,
               position_consistency, unreadable, judge_cost_usd, margin as margin
        from both_sides order by part, task;
"""

# Rubric grades of both sides' latest runs by the same judge and rubric, paired by doc (paired t).
_RUBRIC_GAP = """
    create macro rubric_gap(baseline, candidate, judge_name := null, suite_name := null, margin := 0.05) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)),
        graded as (
            select jd.*, p.baseline_run as b_run, p.candidate_run as c_run from judgements jd join p on jd.task = p.task
            where jd.mode = 'rubric' and jd.error is null and jd.score is not null
              and (judge_name is null or jd.judge = judge_name) and jd.run_id in (p.baseline_run, p.candidate_run)
            qualify row_number() over (partition by jd.run_id, jd.task, jd.doc_id, jd.judge, jd.rubric_hash
                                       order by jd.judged_at desc) = 1),
        pairs as (
            select b.task, b.judge, b.rubric_hash, b.score as b_score, c.score as c_score
            from graded b join graded c using (task, doc_id, judge, rubric_hash)
            where b.run_id = b.b_run and c.run_id = c.c_run),
        agg as (
            select task, any_value(judge) as judge, count(*) as n, avg(b_score) as baseline_mean,
                   avg(c_score) as candidate_mean, avg(c_score - b_score) as gap,
                   sqrt(coalesce(var_samp(c_score - b_score), 0) / count(*)) as se
            from pairs group by task)
        select task, judge, n, baseline_mean, candidate_mean, gap,
               gap - lh_t975(greatest(n - 1, 1)::integer) * se as ci_low,
               gap + lh_t975(greatest(n - 1, 1)::integer) * se as ci_high,
               case when gap - lh_t975(greatest(n - 1, 1)::integer) * se > -margin then 'not worse'
                    when gap + lh_t975(greatest(n - 1, 1)::integer) * se < -margin then 'worse'
                    else 'inconclusive' end as verdict
        from agg order by task;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for script in (_TABLES, _JUDGED_GAP, _RUBRIC_GAP):
        con.execute(script)
