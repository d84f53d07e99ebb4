"""Writes of judgements and judge calibrations (migration 0011), and the pairs a judge is asked about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.store.bulk import insert_rows
from harness.store.db import Store, rollback
from harness.store.reads import fetch_dicts

JUDGEMENT_COLUMNS = (
    "judgement_id", "mode", "suite", "task", "doc_id", "baseline_run", "candidate_run", "run_id", "judge",
    "judge_profile_hash", "judge_model_reported", "judge_fingerprint", "prompt_name", "prompt_hash", "rubric_hash",
    "reply_1", "reply_2", "verdict_1", "verdict_2", "outcome", "score", "consistent", "error", "input_tokens",
    "output_tokens", "cost_usd", "cached", "judged_at",
)

# The answered docs of the two sides' latest runs per task (as the comparison pairs them): a failed
# generation is not an answer, so it is not judged either.
_PAIRS = """
    with p as (select * from lh_pairs($baseline, $candidate, $suite))
    select p.suite, p.task, b.doc_id, p.baseline_run, p.candidate_run, b.prompt,
           b.response as baseline_answer, b.tool_calls as baseline_calls,
           c.response as candidate_answer, c.tool_calls as candidate_calls
    from p join generations b on b.run_id = p.baseline_run and b.task = p.task
    join generations c on c.run_id = p.candidate_run and c.task = p.task and c.doc_id = b.doc_id
    where lh_failure(b.error) is null and lh_failure(c.error) is null
    qualify row_number() over (partition by p.task order by b.doc_id) <= coalesce($limit, 1000000000)
    order by p.task, b.doc_id
"""

# One side's latest run per task (a provider name or a run id, as in the comparison).
_ANSWERS = """
    with p as (select * from lh_pairs($side, $side, $suite))
    select p.suite, p.task, g.doc_id, g.run_id, g.prompt, g.response as answer, g.tool_calls
    from p join generations g on g.run_id = p.baseline_run and g.task = p.task
    where lh_failure(g.error) is null
    qualify row_number() over (partition by p.task order by g.doc_id) <= coalesce($limit, 1000000000)
    order by p.task, g.doc_id
"""

# Who answered a run: the provider's name and model, for the self-judging check.
_WHO = "select distinct r.provider, p.model from runs r join providers p using (profile_hash) where r.run_id in " \
       "(select unnest(?::varchar[]))"


def pairs_to_judge(store: Store, baseline: str, candidate: str, suite: str | None,
                   limit: int | None) -> list[dict[str, Any]]:
    with store.connect(read_only=True) as con:
        return fetch_dicts(con.execute(_PAIRS, {"baseline": baseline, "candidate": candidate, "suite": suite,
                                                "limit": limit}))


def answers_to_grade(store: Store, side: str, suite: str | None, limit: int | None) -> list[dict[str, Any]]:
    with store.connect(read_only=True) as con:
        return fetch_dicts(con.execute(_ANSWERS, {"side": side, "suite": suite, "limit": limit}))


def who_answered(store: Store, run_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(provider, model) of the runs."""
    with store.connect(read_only=True) as con:
        return [(str(a), str(b)) for a, b in con.execute(_WHO, [list(run_ids)]).fetchall()]


def record_judgements(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """All of one judging pass in one transaction; a re-judge of the same docs replaces its rows."""
    with store.connect() as con:
        con.execute("begin transaction")
        try:
            insert_rows(con, "judgements", [{c: r[c] for c in JUDGEMENT_COLUMNS} for r in rows], on_conflict="replace")
            con.execute("commit")
        except Exception:
            rollback(con)
            raise


def record_calibration(store: Store, row: dict[str, Any]) -> None:
    with store.connect() as con:
        insert_rows(con, "judge_calibrations", [row])
