"""What every sample's outcome is made of, and where a candidate's losses come from. The one place
the taxonomy is computed (docs/failure-modes.md documents it).

`sample_classes` gives each doc of each run (on the task's primary score) one `failure_class`, the
first that applies, in this order:

  unsupported_feature  the provider lacks a feature the request needs ('unsupported: <feature>')
  error                the request failed; `error_kind`: context_length, timeout, rate_limit, server,
                       client, connection or other (read from the stored error text)
  correct              primary score >= 0.5 (1 for 0/1 scores)
  empty                no text and no tool call
  truncated_by_harness_cap  a replayed request the log sent without a cap stopped at the cap the
                       harness gave it (finish_reason 'length'; `cap_origin` not 'logged')
  truncated            stopped at the token cap (finish_reason 'length')
  refusal              the answer declines (lh_is_refusal: documented English patterns)
  invalid_json         a JSON response format, answered with text that is not JSON
  schema_violation     JSON, but not what the schema allows
  wrong_tool           a tool request: called the wrong function, called when no call was
                       expected, or did not call when one was
  wrong_arguments      the right function with other arguments
  no_answer            the task's filter extracted nothing (lm-eval's '[invalid]')
  wrong                anything else: a real error of substance

`failure_modes(baseline, candidate)` splits, per task, the discordant pairs (baseline correct,
candidate not; pairs where either side errored are out, as in quality_gap) by the candidate's
class, with the share each class takes and whether a format instruction (empty, invalid_json,
schema_violation, no_answer) or a larger token cap (truncated) could plausibly fix it.
"""

from __future__ import annotations

from harness.config.refusals import REFUSAL_PATTERN
from harness.store.sql.definition import Definition

# What kind of failure an error text reads as (null for no error and for 'unsupported: ...').
LH_ERROR_KIND = Definition("lh_error_kind", "macro", r"""
    create or replace macro lh_error_kind(error) as case
        when error is null or lh_unsupported(error) then null
        -- First: the input's fault, not the provider's (the hf guard's refusal, or an API's 400 saying so;
        -- its token counts must not read as a 5xx or 4xx code).
        when regexp_matches(error, '(?i)context.?length|context window') then 'context_length'
        when regexp_matches(error, '(?i)time(d)? ?out') then 'timeout'
        when regexp_matches(error, '(?i)\b429\b|rate.?limit|too many requests') then 'rate_limit'
        when regexp_matches(error, '(?i)\b5\d\d\b|server error|internal error|malformed response|empty choices')
            then 'server'
        when regexp_matches(error, '(?i)\b4\d\d\b|bad request|invalid request') then 'client'
        when regexp_matches(error, '(?i)connect|unreachable|reset|refused|dns') then 'connection'
        else 'other' end
""")

# The documented English refusal patterns (docs/failure-modes.md; one definition: harness.config.refusals).
LH_IS_REFUSAL = Definition("lh_is_refusal", "macro", f"""
    create or replace macro lh_is_refusal(text) as regexp_matches(coalesce(text, ''),
        '(?i){REFUSAL_PATTERN.replace("'", "''")}')
""")

# The first class that applies, in the order of the module's docstring.
LH_FAILURE_CLASS = Definition("lh_failure_class", "macro", """
    create or replace macro lh_failure_class(error, score, response, filtered, finish_reason, has_calls,
                                             json_valid, schema_valid, tool_names, missed_call, spurious_call,
                                             cap_origin) as case
        when lh_unsupported(error) then 'unsupported_feature'
        when error is not null then 'error'
        when score >= 0.5 then 'correct'
        when trim(coalesce(response, '')) = '' and not coalesce(has_calls, false) then 'empty'
        when finish_reason = 'length' and coalesce(cap_origin <> 'logged', false)
            then 'truncated_by_harness_cap'
        when finish_reason = 'length' then 'truncated'
        when lh_is_refusal(response) then 'refusal'
        when json_valid = 0 then 'invalid_json'
        when schema_valid = 0 then 'schema_violation'
        when missed_call = 1 or spurious_call = 1 or tool_names = 0 then 'wrong_tool'
        when tool_names = 1 then 'wrong_arguments'
        when filtered = '[invalid]' or (trim(coalesce(filtered, '')) = '' and trim(response) <> '') then 'no_answer'
        else 'wrong' end
""")

# What could plausibly fix a class: a format instruction, or a larger token cap.
LH_FIXABLE_BY = Definition("lh_fixable_by", "macro", """
    create or replace macro lh_fixable_by(failure_class) as case
        when failure_class in ('empty', 'invalid_json', 'schema_violation', 'no_answer') then 'format'
        when failure_class in ('truncated', 'truncated_by_harness_cap') then 'token cap' end
""")

# One failure_class per doc of each run, on the task's primary score; `why` holds the tool/JSON
# metrics that tell the classes apart.
SAMPLE_CLASSES = Definition("sample_classes", "view", """
    create or replace view sample_classes as
        with prim as (
            select s.run_id, s.task, s.doc_id, s.metric, s.filter, s.score, s.error, s.response, s.filtered,
                   s.prompt, s.target
            from samples s join task_scores t using (run_id, task, metric, filter) where t.is_primary),
        why as (
            select run_id, task, doc_id,
                   max(score) filter (where metric = 'json_valid') as json_valid,
                   max(score) filter (where metric = 'schema_valid') as schema_valid,
                   max(score) filter (where metric = 'tool_names') as tool_names,
                   max(score) filter (where metric = 'missed_call') as missed_call,
                   max(score) filter (where metric = 'spurious_call') as spurious_call
            from samples
            where metric in ('json_valid', 'schema_valid', 'tool_names', 'missed_call', 'spurious_call')
            group by run_id, task, doc_id)
        select p.run_id, p.task, p.doc_id, p.metric, p.filter, p.score, p.error, g.finish_reason,
               lh_failure_class(p.error, p.score, p.response, p.filtered, g.finish_reason,
                                g.tool_calls is not null, w.json_valid, w.schema_valid, w.tool_names,
                                w.missed_call, w.spurious_call, g.cap_origin) as failure_class,
               lh_error_kind(p.error) as error_kind, p.prompt, p.target, p.response, p.filtered,
               g.tool_calls
        from prim p left join generations g using (run_id, task, doc_id)
        left join why w using (run_id, task, doc_id)
""")

# The discordant pairs (baseline correct, candidate not; sides above max_error_rate and errored pairs
# are out, as in quality_gap) split by the candidate's class.
FAILURE_MODES = Definition("failure_modes", "macro", """
    create or replace macro failure_modes(baseline, candidate, suite_name := null, max_error_rate := 0.02) as table
        with p as (select * from lh_budget_pairs(baseline, candidate, suite_name, max_error_rate)),
        b as (select k.* from sample_classes k join p on k.run_id = p.baseline_run and k.task = p.task),
        c as (select k.* from sample_classes k join p on k.run_id = p.candidate_run and k.task = p.task),
        lost as (
            select b.task, c.failure_class, count(*) as n
            from b join c using (task, doc_id)
            where b.failure_class = 'correct' and c.failure_class not in ('correct', 'error')
            group by b.task, c.failure_class)
        select task, failure_class, n,
               n / sum(n) over (partition by task) as share, sum(n) over (partition by task) as discordant,
               lh_fixable_by(failure_class) as fixable_by
        from lost
        order by task, n desc, failure_class
""")

DEFINITIONS: list[Definition] = [
    LH_ERROR_KIND, LH_IS_REFUSAL, LH_FAILURE_CLASS, LH_FIXABLE_BY, SAMPLE_CLASSES, FAILURE_MODES,
]
