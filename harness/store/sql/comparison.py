"""The SQL that compares providers: which runs pair up, the paired quality gap per task, and the
migration verdict (non-inferiority, cost, latency). Methods: docs/statistics.md.

Means, counts, cost and latency are computed here. The exact intervals, p-values, verdicts and
samples needed need every doc's difference and a search SQL does not carry (harness.analysis.
betting): `harness compare` computes them and stores them in `gap_tests` under each row's
`pair_key`, and these macros return the stored result. A row never computed by `harness compare`
(for these runs and this margin) has verdict 'not computed: run harness compare' and no interval.

An errored generation is not an answer: the comparison leaves out every doc where either side
errored (and says how many, per side), leaves out a side whose run errored above `max_error_rate`
(default 2%, as `harness eval` and `harness compare` use), and takes latency and cost from answered
requests only.
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# Runs to compare, per task: the latest complete run of each side. A side is a provider name or a
# run id (to compare two runs of one provider). Each side's error rate comes along. The baseline
# prefers a live run over an imported one: imported traffic scores the incumbent's logged answers
# against themselves, so a replay of the incumbent (a live run) is the fair baseline when there is one;
# `baseline_has_log` says that the baseline provider has an imported run of the task.
LH_PAIRS = Definition("lh_pairs", "macro", """
    create or replace macro lh_pairs(baseline, candidate, suite_name) as table
        with pick as (
            select *, (provider = baseline or run_id = baseline) as is_b,
                   (provider = candidate or run_id = candidate) as is_c
            from run_tasks where suite_name is null or suite = suite_name),
        b as (select * from pick where is_b
              qualify row_number() over (partition by task
                                         order by source = 'imported', finished_at desc, run_id desc) = 1),
        c as (select * from pick where is_c
              qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1),
        logged as (select distinct task from pick where is_b and source = 'imported')
        select b.suite, b.task, b.metric, b.filter, b.weight, b.run_id as baseline_run, c.run_id as candidate_run,
               b.error_rate as baseline_error_rate, c.error_rate as candidate_error_rate,
               b.provider as baseline_provider, b.source as baseline_source,
               b.task in (select task from logged) as baseline_has_log
        from b join c using (task, metric, filter)
""")

# The pairs a comparison may use: a side whose run errored above `max_error_rate` is not an answer
# set, so its tasks are left out (quality_gap, failure_modes; compare refuses such a side outright).
LH_BUDGET_PAIRS = Definition("lh_budget_pairs", "macro", """
    create or replace macro lh_budget_pairs(baseline, candidate, suite_name, max_error_rate) as table
        select * from lh_pairs(baseline, candidate, suite_name)
        where coalesce(baseline_error_rate, 0) <= max_error_rate and coalesce(candidate_error_rate, 0) <= max_error_rate
""")

# Paired comparison per task, over the doc pairs where neither side errored (`errored_pairs` counts
# the others) and both have a score. The interval and p-value are the latest stored by `harness
# compare` for these two runs (`gap_tests`, kind 'quality'), whatever the margin (they do not depend on it).
QUALITY_GAP = Definition("quality_gap", "macro", """
    create or replace macro quality_gap(baseline, candidate, suite_name := null, max_error_rate := 0.02) as table
        with p as (select * from lh_budget_pairs(baseline, candidate, suite_name, max_error_rate)),
        b as (select s.task, s.doc_id, s.score, lh_failure(s.error) as error, lh_unsupported(s.error) as unsupported
              from samples s
              join p on s.run_id = p.baseline_run and s.task = p.task and s.metric = p.metric and s.filter = p.filter),
        c as (select s.task, s.doc_id, s.score, lh_failure(s.error) as error, lh_unsupported(s.error) as unsupported
              from samples s
              join p on s.run_id = p.candidate_run and s.task = p.task and s.metric = p.metric and s.filter = p.filter),
        errs as (
            select b.task, count(*) filter (where b.error is not null) as baseline_errors,
                   count(*) filter (where c.error is not null) as candidate_errors,
                   count(*) filter (where b.error is not null or c.error is not null) as errored_pairs,
                   count(*) filter (where b.unsupported) as baseline_unsupported,
                   count(*) filter (where c.unsupported) as candidate_unsupported
            from b join c using (task, doc_id) group by b.task),
        agg as (
            select b.task, count(*) as n, avg(b.score) as baseline_mean, avg(c.score) as candidate_mean,
                   avg(c.score - b.score) as gap,
                   count(*) filter (where b.score = 1 and c.score = 0) as baseline_only,
                   count(*) filter (where b.score = 0 and c.score = 1) as candidate_only
            from b join c using (task, doc_id)
            where b.score is not null and c.score is not null and b.error is null and c.error is null
            group by b.task),
        stored as (
            select * from gap_tests where kind = 'quality'
            qualify row_number() over (partition by pair_key, task order by computed_at desc) = 1)
        select p.suite, e.task, p.metric, p.filter, p.weight, coalesce(a.n, 0) as n, a.baseline_mean,
               a.candidate_mean, a.gap, t.ci_low, t.ci_high, a.candidate_mean / nullif(a.baseline_mean, 0) as retained,
               t.p_value, a.baseline_only, a.candidate_only, coalesce(t.method, 'not computed') as method,
               p.baseline_run, p.candidate_run, e.baseline_errors, e.candidate_errors, e.errored_pairs,
               e.baseline_unsupported, e.candidate_unsupported, p.baseline_provider, p.baseline_source,
               p.baseline_has_log, p.baseline_run || '|' || p.candidate_run as pair_key
        from errs e left join agg a using (task) join p using (task)
        left join stored t on t.pair_key = p.baseline_run || '|' || p.candidate_run and t.task = e.task
                          and t.n = coalesce(a.n, 0)
""")

# Non-inferiority against `margin` (candidate - baseline > -margin), per task and weighted OVERALL
# (suite weights), with cost and latency (from answered requests only). The OVERALL key is the md5 of
# the tasks and run pairs it combines, so a stored result never stands for another set of tasks.
MIGRATION = Definition("migration", "macro", """
    create or replace macro migration(baseline, candidate, margin := 0.05, suite_name := null,
                                      max_error_rate := 0.02) as table
        with g as (select * from quality_gap(baseline, candidate, suite_name := suite_name,
                                             max_error_rate := max_error_rate)),
        overall as (
            select any_value(suite) as suite, 'OVERALL' as task, 1.0 as weight, sum(n) as n,
                   sum(weight * baseline_mean) / sum(weight) as baseline_mean,
                   sum(weight * candidate_mean) / sum(weight) as candidate_mean,
                   sum(weight * gap) / sum(weight) as gap,
                   sum(weight * candidate_mean) / nullif(sum(weight * baseline_mean), 0) as retained,
                   sum(baseline_errors) as baseline_errors, sum(candidate_errors) as candidate_errors,
                   sum(errored_pairs) as errored_pairs, sum(baseline_unsupported) as baseline_unsupported,
                   sum(candidate_unsupported) as candidate_unsupported,
                   md5(string_agg(task || ':' || baseline_run || '|' || candidate_run, ',' order by task)) as pair_key
            from g where n > 0 having count(*) > 0),
        both_sides as (
            select suite, task, metric, filter, weight / sum(weight) over () as weight, n, baseline_mean,
                   candidate_mean, gap, retained, baseline_run, candidate_run, baseline_errors, candidate_errors,
                   errored_pairs, baseline_unsupported, candidate_unsupported, baseline_provider, baseline_source,
                   baseline_has_log, pair_key, 0 as part
            from g
            union all by name select *, 1 as part from overall),
        stored as (select * from gap_tests where kind = 'quality' and at_margin = margin),
        costs as (
            select g.task, b.cost_per_1k_usd as baseline_cost_per_1k, c.cost_per_1k_usd as candidate_cost_per_1k,
                   b.latency_p50_ms as baseline_p50_ms, c.latency_p50_ms as candidate_p50_ms,
                   b.latency_p95_ms as baseline_p95_ms, c.latency_p95_ms as candidate_p95_ms,
                   b.n as baseline_gen_n, c.n as candidate_gen_n
            from g left join run_task_costs b on b.run_id = g.baseline_run and b.task = g.task
            left join run_task_costs c on c.run_id = g.candidate_run and c.task = g.task),
        latency_all as (
            select 'OVERALL' as task,
                   quantile_cont(x.latency_ms, 0.5) filter (where x.side = 'b') as baseline_p50_ms,
                   quantile_cont(x.latency_ms, 0.5) filter (where x.side = 'c') as candidate_p50_ms,
                   quantile_cont(x.latency_ms, 0.95) filter (where x.side = 'b') as baseline_p95_ms,
                   quantile_cont(x.latency_ms, 0.95) filter (where x.side = 'c') as candidate_p95_ms
            from (select 'b' as side, gen.latency_ms from generations gen
                  join g on gen.run_id = g.baseline_run and gen.task = g.task where gen.error is null
                  union all
                  select 'c', gen.latency_ms from generations gen
                  join g on gen.run_id = g.candidate_run and gen.task = g.task where gen.error is null) x),
        cost_all as (
            select 'OVERALL' as task,
                   sum(baseline_cost_per_1k * baseline_gen_n) / nullif(sum(baseline_gen_n), 0) as baseline_cost_per_1k,
                   sum(candidate_cost_per_1k * candidate_gen_n) / nullif(sum(candidate_gen_n), 0)
                       as candidate_cost_per_1k
            from costs),
        cost_rows as (
            select task, baseline_cost_per_1k, candidate_cost_per_1k, baseline_p50_ms, candidate_p50_ms,
                   baseline_p95_ms, candidate_p95_ms from costs
            union all by name select * from cost_all join latency_all using (task))
        select s.suite, s.task, s.metric, s.filter, s.weight, s.n, s.baseline_mean, s.candidate_mean, s.gap,
               t.ci_low, t.ci_high, s.retained, t.p_value, t.p_noninferior, t.p_inferior,
               coalesce(t.verdict, 'not computed: run harness compare') as verdict, t.min_n, t.samples_needed,
               t.note, margin as margin, k.baseline_cost_per_1k, k.candidate_cost_per_1k, k.baseline_p50_ms,
               k.candidate_p50_ms, k.baseline_p95_ms, k.candidate_p95_ms, coalesce(t.method, 'not computed') as method,
               s.baseline_run, s.candidate_run, s.baseline_errors, s.candidate_errors, s.errored_pairs,
               s.baseline_unsupported, s.candidate_unsupported, s.baseline_provider, s.baseline_source,
               s.baseline_has_log, s.pair_key
        from both_sides s left join cost_rows k using (task)
        left join stored t on t.pair_key = s.pair_key and t.task = s.task and t.n = s.n
        order by s.part, s.task
""")

DEFINITIONS: list[Definition] = [LH_PAIRS, LH_BUDGET_PAIRS, QUALITY_GAP, MIGRATION]
