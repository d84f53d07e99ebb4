"""Migration 0011_judges: a judge's verdicts, stored with everything that produced them.

- `judgements`: one row per judged doc. Pairwise (`mode = 'pairwise'`): the baseline's and the
  candidate's answers, asked in both orders; `verdict_1` (baseline shown as A) and `verdict_2`
  (candidate shown as A) are what the judge said, read as the candidate's 'win', 'tie' or 'loss'
  ('unreadable' when no verdict was found); `outcome` is the candidate's win or loss only when both
  orders agree, else a tie; `score` +1 / 0 / -1. Rubric (`mode = 'rubric'`): one answer (`run_id`)
  graded once; `score` in [0, 1]. Each row keeps the judge's profile hash, the model and
  fingerprint it reported, the prompt's name and hash, both raw replies, tokens and cost.
- `judge_calibrations`: a judge measured against a team's labelled sample (agreement, Cohen's
  kappa, confusion table).
The statistics the verdicts feed (`judged_gap`, `rubric_gap`) now live in harness/store/sql/judges.py:
a change to one is an edit of its one definition, re-applied by hash; a table change is a new migration.
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


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_TABLES)
