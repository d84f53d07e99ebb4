"""Migration 0003_analysis: the primary metric of each task, and the SQL that compares providers.

Shipped SQL is frozen: a later change to a macro goes in a new migration (`create or replace`).
The formulas are written up in docs/statistics.md; names starting `lh_` are helpers.
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

# Distribution helpers. erfc: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). t quantile: exact for
# df 1-4, Cornish-Fisher to 1/df^4 above (error < 3e-4 at df 5, < 1e-5 from df 10). t tail: the
# exact finite series of A&S 26.7.3-4 up to df 20000, the normal tail beyond (error < 2e-5).
_HELPERS = """
    create macro lh_erfc(x) as
        (1.0 / (1.0 + 0.3275911 * x)) * (0.254829592 + (1.0 / (1.0 + 0.3275911 * x)) * (-0.284496736
        + (1.0 / (1.0 + 0.3275911 * x)) * (1.421413741 + (1.0 / (1.0 + 0.3275911 * x)) * (-1.453152027
        + (1.0 / (1.0 + 0.3275911 * x)) * 1.061405429)))) * exp(-x * x);
    create macro lh_p_normal(z) as least(1.0, lh_erfc(abs(z) / sqrt(2.0)));
    create macro lh_t975(df) as case
        when df < 1 then null when df = 1 then 12.706204736174694 when df = 2 then 4.302652729749462
        when df = 3 then 3.182446305283708 when df = 4 then 2.776445105197793
        else 1.959963984540054 + 2.372271230298562 / df + 2.8224986157396112 / df ^ 2
             + 2.555849679507722 / df ^ 3 + 1.5895340533938225 / df ^ 4 end;
    create macro lh_t_inside(theta, df) as case
        when df % 2 = 1 then 2.0 / pi() * (theta + sin(theta) * coalesce((
            select sum(exp(lgamma(j + 1) + lgamma(1.5) - lgamma(j + 1.5)) * cos(theta) ^ (2 * j + 1))
            from range(0, (df - 1) // 2) r(j)), 0))
        else sin(theta) * (
            select sum(exp(lgamma(k + 0.5) - lgamma(0.5) - lgamma(k + 1)) * cos(theta) ^ (2 * k))
            from range(0, df // 2) r(k)) end;
    create macro lh_p_t(t, df) as case
        when df < 1 or t is null then null when df > 20000 then lh_p_normal(t)
        else greatest(0.0, least(1.0, 1.0 - lh_t_inside(atan(abs(t) / sqrt(df)), df))) end;
    create macro lh_mcnemar_p(b, c) as case when b + c = 0 then 1.0 else least(1.0, 2.0 * (
        select sum(exp(lgamma(b + c + 1) - lgamma(k + 1) - lgamma(b + c - k + 1) - (b + c) * ln(2)))
        from range(0, least(b, c) + 1) r(k))) end;
"""

# The primary (task, metric, filter) of every complete run, and the latest run per provider x suite x task.
_VIEWS = """
    create view run_tasks as
        select r.run_id, r.provider, r.profile_hash, r.suite, r.finished_at, r.chat_template, r.limit_docs,
               t.task, t.metric, t.filter, t.weight, t.value, t.n, t.task_version, t.num_fewshot, t.gen_kwargs
        from runs r join task_scores t using (run_id)
        where r.status = 'complete' and t.is_primary;
    create view latest_runs as
        select * from run_tasks
        qualify row_number() over (partition by provider, suite, task order by finished_at desc, run_id desc) = 1;
    create view task_results as
        select l.provider, l.suite, l.task, s.metric, s.filter, s.value, s.stderr, s.n, s.is_primary, l.run_id
        from latest_runs l join task_scores s using (run_id, task);
    create view run_task_costs as
        with primary_samples as (
            select s.run_id, s.task, s.doc_id, s.cost_usd from samples s
            join task_scores t using (run_id, task, metric, filter) where t.is_primary)
        select g.run_id, g.task, count(*) as n,
               1000 * coalesce(avg(p.cost_usd), any_value(
                   try_cast(json_extract(pr.profile_json, '$.pricing.hardware_usd_per_hour') as double)
                   * r.wall_s / 3600 / nullif(r.n_requests, 0))) as cost_per_1k_usd,
               case when avg(p.cost_usd) is not null then 'api prices'
                    when any_value(json_extract(pr.profile_json, '$.pricing.hardware_usd_per_hour')) is not null
                    then 'hardware time' end as cost_basis,
               quantile_cont(g.latency_ms, 0.5) as latency_p50_ms, quantile_cont(g.latency_ms, 0.95) as latency_p95_ms
        from generations g join runs r using (run_id) join providers pr on pr.profile_hash = r.profile_hash
        left join primary_samples p using (run_id, task, doc_id)
        group by g.run_id, g.task;
"""

# Runs to compare, per task: the latest complete run of each side. A side is a provider name or a
# run id (to compare two runs of one provider).
_PAIRS = """
    create macro lh_pairs(baseline, candidate, suite_name) as table
        with pick as (
            select *, (provider = baseline or run_id = baseline) as is_b,
                   (provider = candidate or run_id = candidate) as is_c
            from run_tasks where suite_name is null or suite = suite_name),
        b as (select * from pick where is_b
              qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1),
        c as (select * from pick where is_c
              qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1)
        select b.suite, b.task, b.metric, b.filter, b.weight, b.run_id as baseline_run, c.run_id as candidate_run
        from b join c using (task, metric, filter);
"""

# Paired comparison per task. Binary scores: Agresti-Min adjusted Wald interval and McNemar's exact
# test; other scores: paired t interval and test. Pairs where either score is missing are left out.
_QUALITY_GAP = """
    create macro quality_gap(baseline, candidate, suite_name := null) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)),
        b as (select s.task, s.doc_id, s.score from samples s
              join p on s.run_id = p.baseline_run and s.task = p.task and s.metric = p.metric and s.filter = p.filter),
        c as (select s.task, s.doc_id, s.score from samples s
              join p on s.run_id = p.candidate_run and s.task = p.task and s.metric = p.metric and s.filter = p.filter),
        agg as (
            select b.task, count(*) as n, avg(b.score) as baseline_mean, avg(c.score) as candidate_mean,
                   avg(c.score - b.score) as gap, var_samp(c.score - b.score) as var_diff,
                   count(*) filter (where b.score = 1 and c.score = 0) as baseline_only,
                   count(*) filter (where b.score = 0 and c.score = 1) as candidate_only,
                   bool_and(b.score in (0, 1) and c.score in (0, 1)) as is_binary
            from b join c using (task, doc_id) where b.score is not null and c.score is not null
            group by b.task),
        est as (
            select *,
                case when is_binary then (candidate_only - baseline_only) / (n + 2.0) else gap end as centre,
                case when is_binary then sqrt((baseline_only + candidate_only + 1.0)
                                              - (candidate_only - baseline_only) ^ 2 / (n + 2.0)) / (n + 2.0)
                     else sqrt(var_diff / n) end as se,
                case when is_binary then 1.959963984540054 else lh_t975(n - 1) end as q
            from agg)
        select p.suite, e.task, p.metric, p.filter, p.weight, e.n, e.baseline_mean, e.candidate_mean, e.gap,
               case when is_binary then greatest(-1.0, centre - q * se) else centre - q * se end as ci_low,
               case when is_binary then least(1.0, centre + q * se) else centre + q * se end as ci_high,
               e.candidate_mean / nullif(e.baseline_mean, 0) as retained,
               case when is_binary then lh_mcnemar_p(baseline_only, candidate_only)
                    when se > 0 then lh_p_t(gap / se, n - 1)
                    when n > 1 then (case when gap = 0 then 1.0 else 0.0 end) end as p_value,
               e.se, e.baseline_only, e.candidate_only,
               case when is_binary then 'agresti-min+mcnemar' else 'paired-t' end as method,
               p.baseline_run, p.candidate_run
        from est e join p using (task);
"""

# Non-inferiority against `margin` (candidate - baseline > -margin), per task and weighted overall
# (suite weights; tasks independent), with the samples needed to decide at 80% power, cost and latency.
_MIGRATION = """
    create macro migration(baseline, candidate, margin := 0.05, suite_name := null) as table
        with g as (select * from quality_gap(baseline, candidate, suite_name := suite_name)),
        total as (
            select any_value(suite) as suite, 'OVERALL' as task, sum(weight) as weight, sum(n) as n,
                   sum(weight * baseline_mean) / sum(weight) as baseline_mean,
                   sum(weight * candidate_mean) / sum(weight) as candidate_mean,
                   sum(weight * gap) / sum(weight) as gap, sqrt(sum(weight ^ 2 * se ^ 2)) / sum(weight) as se
            from g having count(*) > 0),
        overall as (
            select *, gap - 1.959963984540054 * se as ci_low, gap + 1.959963984540054 * se as ci_high,
                   candidate_mean / nullif(baseline_mean, 0) as retained,
                   case when se > 0 then lh_p_normal(gap / se) when gap = 0 then 1.0 else 0.0 end as p_value,
                   'weighted-normal' as method
            from total),
        both_sides as (
            select suite, task, metric, filter, weight / sum(weight) over () as weight, n, baseline_mean,
                   candidate_mean, gap, ci_low, ci_high, retained, p_value, se, method, baseline_run, candidate_run,
                   0 as part
            from g
            union all by name select * exclude (weight), 1.0 as weight, 1 as part from overall),
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
                  join g on gen.run_id = g.baseline_run and gen.task = g.task
                  union all
                  select 'c', gen.latency_ms from generations gen
                  join g on gen.run_id = g.candidate_run and gen.task = g.task) x),
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
               s.ci_low, s.ci_high, s.retained, s.p_value,
               case when s.ci_low > -margin then 'feasible' when s.ci_high < -margin then 'infeasible'
                    else 'inconclusive' end as verdict,
               case when s.se is null or s.gap + margin = 0 then null
                    else ceil(s.n * ((1.959963984540054 + 0.8416212335729143) * s.se / (s.gap + margin)) ^ 2)::bigint
               end as samples_needed,
               margin as margin, k.baseline_cost_per_1k, k.candidate_cost_per_1k, k.baseline_p50_ms, k.candidate_p50_ms,
               k.baseline_p95_ms, k.candidate_p95_ms, s.se, s.method, s.baseline_run, s.candidate_run
        from both_sides s left join cost_rows k using (task)
        order by s.part, s.task;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Add the primary-metric columns, then the helpers, views and macros (in dependency order)."""
    for script in (_PRIMARY, _HELPERS, _VIEWS, _PAIRS, _QUALITY_GAP, _MIGRATION):
        con.execute(script)
