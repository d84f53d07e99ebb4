"""Migration 0006_errors_do_not_vote: an errored generation is not an answer.

Runs record how many generations errored and their share. The comparison macros leave out every
doc where either side errored (and say how many, per side), leave out a side whose run errored
above `max_error_rate` (default 2%, as `harness eval` and `harness compare` use), and take
latency and cost from answered requests only. Columns are only added, so queries written against
0003 keep working. Shipped SQL is frozen: later changes go in a new migration.
"""

from __future__ import annotations

import duckdb

# A request that needed a feature the provider lacks is answered 'unsupported: <feature>': not a
# failure of the run but a measured lock-in, scored 0 like an empty answer.
_RUN_COUNTS = """
    create macro lh_unsupported(error) as coalesce(error like 'unsupported: %', false);
    create macro lh_failure(error) as case when lh_unsupported(error) then null else error end;
    alter table runs add column n_errors integer;
    alter table runs add column error_rate double;
    update runs r set n_errors = g.n_errors, error_rate = g.n_errors / nullif(g.n, 0)
    from (select run_id, count(*) filter (where lh_failure(error) is not null) as n_errors, count(*) as n
          from generations group by run_id) g
    where r.run_id = g.run_id;
"""

_VIEWS = """
    create or replace view run_tasks as
        select r.run_id, r.provider, r.profile_hash, r.suite, r.finished_at, r.chat_template, r.limit_docs,
               r.n_errors, r.error_rate,
               t.task, t.metric, t.filter, t.weight, t.value, t.n, t.task_version, t.num_fewshot, t.gen_kwargs
        from runs r join task_scores t using (run_id)
        where r.status = 'complete' and t.is_primary;
    create or replace view latest_runs as
        select * from run_tasks
        qualify row_number() over (partition by provider, suite, task order by finished_at desc, run_id desc) = 1;
    create or replace view task_results as
        select l.provider, l.suite, l.task, s.metric, s.filter, s.value, s.stderr, s.n, s.is_primary, l.run_id
        from latest_runs l join task_scores s using (run_id, task);
    create or replace view run_task_costs as
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
        where g.error is null
        group by g.run_id, g.task;
"""

_PAIRS = """
    create or replace macro lh_pairs(baseline, candidate, suite_name) as table
        with pick as (
            select *, (provider = baseline or run_id = baseline) as is_b,
                   (provider = candidate or run_id = candidate) as is_c
            from run_tasks where suite_name is null or suite = suite_name),
        b as (select * from pick where is_b
              qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1),
        c as (select * from pick where is_c
              qualify row_number() over (partition by task order by finished_at desc, run_id desc) = 1)
        select b.suite, b.task, b.metric, b.filter, b.weight, b.run_id as baseline_run, c.run_id as candidate_run,
               b.error_rate as baseline_error_rate, c.error_rate as candidate_error_rate
        from b join c using (task, metric, filter);
"""

# As in 0003, over the doc pairs where neither side errored; `errored_pairs` counts the others.
_QUALITY_GAP = """
    create or replace macro quality_gap(baseline, candidate, suite_name := null, max_error_rate := 0.02) as table
        with p as (select * from lh_pairs(baseline, candidate, suite_name)
                   where coalesce(baseline_error_rate, 0) <= max_error_rate
                     and coalesce(candidate_error_rate, 0) <= max_error_rate),
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
                   avg(c.score - b.score) as gap, var_samp(c.score - b.score) as var_diff,
                   count(*) filter (where b.score = 1 and c.score = 0) as baseline_only,
                   count(*) filter (where b.score = 0 and c.score = 1) as candidate_only,
                   bool_and(b.score in (0, 1) and c.score in (0, 1)) as is_binary
            from b join c using (task, doc_id)
            where b.score is not null and c.score is not null and b.error is null and c.error is null
            group by b.task),
        est as (
            select *,
                case when is_binary then (candidate_only - baseline_only) / (n + 2.0) else gap end as centre,
                case when is_binary then sqrt((baseline_only + candidate_only + 1.0)
                                              - (candidate_only - baseline_only) ^ 2 / (n + 2.0)) / (n + 2.0)
                     else sqrt(var_diff / n) end as se,
                case when is_binary then 1.959963984540054 else lh_t975(n - 1) end as q
            from errs left join agg using (task))
        select p.suite, e.task, p.metric, p.filter, p.weight, e.n, e.baseline_mean, e.candidate_mean, e.gap,
               case when is_binary then greatest(-1.0, centre - q * se) else centre - q * se end as ci_low,
               case when is_binary then least(1.0, centre + q * se) else centre + q * se end as ci_high,
               e.candidate_mean / nullif(e.baseline_mean, 0) as retained,
               case when is_binary then lh_mcnemar_p(baseline_only, candidate_only)
                    when se > 0 then lh_p_t(gap / se, n - 1)
                    when n > 1 then (case when gap = 0 then 1.0 else 0.0 end) end as p_value,
               e.se, e.baseline_only, e.candidate_only,
               case when is_binary then 'agresti-min+mcnemar' else 'paired-t' end as method,
               p.baseline_run, p.candidate_run, e.baseline_errors, e.candidate_errors, e.errored_pairs,
               e.baseline_unsupported, e.candidate_unsupported
        from est e join p using (task);
"""

_MIGRATION = """
    create or replace macro migration(baseline, candidate, margin := 0.05, suite_name := null,
                                      max_error_rate := 0.02) as table
        with g as (select * from quality_gap(baseline, candidate, suite_name := suite_name,
                                             max_error_rate := max_error_rate)),
        total as (
            select any_value(suite) as suite, 'OVERALL' as task, sum(weight) as weight, sum(n) as n,
                   sum(weight * baseline_mean) / sum(weight) as baseline_mean,
                   sum(weight * candidate_mean) / sum(weight) as candidate_mean,
                   sum(weight * gap) / sum(weight) as gap, sqrt(sum(weight ^ 2 * se ^ 2)) / sum(weight) as se,
                   sum(baseline_errors) as baseline_errors, sum(candidate_errors) as candidate_errors,
                   sum(errored_pairs) as errored_pairs, sum(baseline_unsupported) as baseline_unsupported,
                   sum(candidate_unsupported) as candidate_unsupported
            from g where n > 0 having count(*) > 0),
        overall as (
            select *, gap - 1.959963984540054 * se as ci_low, gap + 1.959963984540054 * se as ci_high,
                   candidate_mean / nullif(baseline_mean, 0) as retained,
                   case when se > 0 then lh_p_normal(gap / se) when gap = 0 then 1.0 else 0.0 end as p_value,
                   'weighted-normal' as method
            from total),
        both_sides as (
            select suite, task, metric, filter, weight / sum(weight) over () as weight, n, baseline_mean,
                   candidate_mean, gap, ci_low, ci_high, retained, p_value, se, method, baseline_run, candidate_run,
                   baseline_errors, candidate_errors, errored_pairs, baseline_unsupported, candidate_unsupported,
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
               s.ci_low, s.ci_high, s.retained, s.p_value,
               case when s.ci_low > -margin then 'feasible' when s.ci_high < -margin then 'infeasible'
                    else 'inconclusive' end as verdict,
               case when s.se is null or s.gap + margin = 0 then null
                    else ceil(s.n * ((1.959963984540054 + 0.8416212335729143) * s.se / (s.gap + margin)) ^ 2)::bigint
               end as samples_needed,
               margin as margin, k.baseline_cost_per_1k, k.candidate_cost_per_1k, k.baseline_p50_ms, k.candidate_p50_ms,
               k.baseline_p95_ms, k.candidate_p95_ms, s.se, s.method, s.baseline_run, s.candidate_run,
               s.baseline_errors, s.candidate_errors, s.errored_pairs, s.baseline_unsupported,
               s.candidate_unsupported
        from both_sides s left join cost_rows k using (task)
        order by s.part, s.task;
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for script in (_RUN_COUNTS, _VIEWS, _PAIRS, _QUALITY_GAP, _MIGRATION):
        con.execute(script)
