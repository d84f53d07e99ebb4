"""Views over stored runs: each complete run's primary score per task, the latest run per provider,
suite and task, and each run's cost and latency per task (from answered requests only).
"""

from __future__ import annotations

from harness.store.sql.definition import Definition

# The primary (task, metric, filter) of every complete run, with how many of its generations errored
# and their share (`runs.n_errors`, `runs.error_rate`).
RUN_TASKS = Definition("run_tasks", "view", """
    create or replace view run_tasks as
        select r.run_id, r.provider, r.profile_hash, r.suite, r.finished_at, r.chat_template, r.limit_docs,
               r.n_errors, r.error_rate, coalesce(r.source, 'live') as source,
               t.task, t.metric, t.filter, t.weight, t.value, t.n, t.task_version, t.num_fewshot, t.gen_kwargs
        from runs r join task_scores t using (run_id)
        where r.status = 'complete' and t.is_primary
""")

# The latest run per provider x suite x task.
LATEST_RUNS = Definition("latest_runs", "view", """
    create or replace view latest_runs as
        select * from run_tasks
        qualify row_number() over (partition by provider, suite, task order by finished_at desc, run_id desc) = 1
""")

TASK_RESULTS = Definition("task_results", "view", """
    create or replace view task_results as
        select l.provider, l.suite, l.task, s.metric, s.filter, s.value, s.stderr, s.n, s.is_primary, l.run_id
        from latest_runs l join task_scores s using (run_id, task)
""")

# Cost per 1,000 requests (API prices, else the profile's hardware price over the run's wall time)
# and latency percentiles, from answered requests only: an errored generation is not an answer.
RUN_TASK_COSTS = Definition("run_task_costs", "view", """
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
        group by g.run_id, g.task
""")

DEFINITIONS: list[Definition] = [RUN_TASKS, LATEST_RUNS, TASK_RESULTS, RUN_TASK_COSTS]
