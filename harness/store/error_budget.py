"""The error budget as the store reads it: the runs a comparison would pair (`lh_pairs`) whose share of
errored generations is above `max_error_rate`. One place, so that compare, risk, report, drift and the
pairwise judge refuse the same runs in the same words, before any number or judge call is made."""

from __future__ import annotations

import duckdb

from harness.config.error_budget import percent
from harness.errors import NotComparable

_ERRORED = """
    select r.run_id, x.side, r.error_rate, r.n_errors from (
        select baseline_run as run_id, 'baseline' as side from lh_pairs($b, $c, $s)
        union select candidate_run, 'candidate' from lh_pairs($b, $c, $s)) x join runs r using (run_id)
    where r.error_rate > $max order by r.error_rate desc, x.side
"""


def refuse_errored_sides(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str, suite: str | None,
                         max_error_rate: float, names: tuple[str, str] = ("baseline", "candidate")) -> None:
    """A run whose generations mostly failed says nothing about the model: refuse it in one line.
    `names` say what the two sides are called (drift calls them the earlier and the later run)."""
    sides = con.execute(_ERRORED, {"b": baseline, "c": candidate, "s": suite, "max": max_error_rate}).fetchall()
    if sides:
        run_id, side, rate, n_errors = sides[0]
        label = names[0] if side == "baseline" else names[1]
        raise over_budget(f"the {label}'s", run_id, n_errors, rate, max_error_rate)


def over_budget(whose: str, run_id: str, n_errors: int, rate: float, max_error_rate: float) -> NotComparable:
    """The one refusal of a run over the error budget (`whose` names the side: "the baseline's")."""
    return NotComparable(
        f"{whose} run {run_id} has {n_errors} errored generations ({percent(rate)}, over "
        f"--max-error-rate {percent(max_error_rate)}): errors are not answers; resume it with "
        f"`harness eval --resume {run_id}` once the provider answers")
