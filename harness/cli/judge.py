"""`harness judge`: a judge for answers no metric can score (pairwise against the incumbent, or a
rubric), and its calibration against a team's labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import MAX_ERROR_RATE, DbOption, MaxErrorRateOption, command_group, names, say
from harness.config.error_budget import percent

judge_app = command_group("A judge (any profile) for answers no metric can score; its calibration.")

JudgeOption = Annotated[str, typer.Option("--judge", "-j", callback=names("judge"), help="The profile that judges.")]
SuiteOption = Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
    help="Only runs of this suite.")]
LimitOption = Annotated[int | None, typer.Option(help="At most N docs per task.", min=1)]
SelfOption = Annotated[bool, typer.Option(
    "--allow-self-judge", help="Let a judge judge itself or its own model family (self-preference is measured "
                               "in the literature; the default refuses).")]
CacheOption = Annotated[bool, typer.Option(help="Reuse and store the judge's answers in the response cache.")]


def _report(outcome: object, what: str) -> None:
    from harness.run.judging import JudgeOutcome

    assert isinstance(outcome, JudgeOutcome)
    counts = ", ".join(f"{name} {n}" for name, n in sorted(outcome.counts.items()))
    consistency = (f"; position consistency {percent(outcome.consistency)}"
                   if outcome.consistency is not None else "")
    cost = f"${outcome.cost_usd:.4f}" if outcome.cost_usd is not None else "no price in the judge's profile"
    say(f"{what}: {outcome.judged} docs ({counts}){consistency}")
    say(f"judge calls: {outcome.provider_calls}, from the cache: {outcome.cache_hits}; cost {cost}")


@judge_app.command("pairwise")
def judge_pairwise_cmd(
    baseline: Annotated[str, typer.Option("--baseline", "-b", callback=names("baseline"),
        help="Incumbent: a provider name or a run id.")],
    candidate: Annotated[str, typer.Option("--candidate", "-c", callback=names("candidate"),
        help="Candidate: a provider name or a run id.")],
    judge: JudgeOption, suite: SuiteOption = None, limit: LimitOption = None, allow_self_judge: SelfOption = False,
    cache: CacheOption = True, max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE, db: DbOption = None,
) -> None:
    """Judge the candidate's answers against the baseline's, each pair in both orders (a win counts
    only when both orders agree); `harness compare` and the report then show wins, ties and losses.

    Example: harness judge pairwise -b gpt-4o -c smollm2 --suite support --judge gpt-4o-mini
    """
    from harness.run.judging import JudgeOptions, judge_pairwise

    outcome = judge_pairwise(JudgeOptions(judge, candidate, baseline, suite, limit=limit,
                                          allow_self_judge=allow_self_judge, cache=cache, db=db,
                                          max_error_rate=max_error_rate))
    _report(outcome, f"{judge} judged {candidate} against {baseline}")


@judge_app.command("rubric")
def judge_rubric_cmd(
    candidate: Annotated[str, typer.Option("--candidate", "-c", callback=names("candidate"),
        help="Whose answers: a provider name or a run id.")],
    judge: JudgeOption,
    rubric: Annotated[Path, typer.Option(help="A text file: what a good answer does.")],
    scale: Annotated[str, typer.Option(help="pass-fail or 1-5.")] = "pass-fail",
    suite: SuiteOption = None, limit: LimitOption = None, allow_self_judge: SelfOption = False,
    cache: CacheOption = True, max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE, db: DbOption = None,
) -> None:
    """Grade one side's answers against a rubric (pass/fail, or 1-5), with the judge's reason stored.

    Example: harness judge rubric -c smollm2 --suite support --judge gpt-4o-mini --rubric rubric.txt
    """
    from harness.run.judging import JudgeOptions, judge_rubric

    outcome = judge_rubric(JudgeOptions(judge, candidate, None, suite, rubric, scale, limit, allow_self_judge,
                                        cache, db, max_error_rate))
    _report(outcome, f"{judge} graded {candidate}")


@judge_app.command("calibrate")
def judge_calibrate_cmd(
    judge: JudgeOption,
    labels: Annotated[Path, typer.Option(help="JSONL: request, answer_a, answer_b, label (A, B or tie); "
                                              "or, with --mode rubric, request, answer, label.")],
    mode: Annotated[str, typer.Option(help="pairwise or rubric.")] = "pairwise",
    rubric: Annotated[Path | None, typer.Option(help="Rubric file (rubric mode).")] = None,
    scale: Annotated[str, typer.Option(help="pass-fail or 1-5 (rubric mode).")] = "pass-fail",
    cache: CacheOption = True, db: DbOption = None,
) -> None:
    """Measure a judge against a team's labelled sample: agreement, Cohen's kappa, confusion table.

    Example: harness judge calibrate --judge gpt-4o-mini --labels labelled.jsonl
    """
    from harness.run.calibration import CalibrationOptions, calibrate

    result, unreadable = calibrate(CalibrationOptions(judge, labels, mode, rubric, scale, db, cache))
    kappa = "undefined (one label only)" if result.kappa is None else f"{result.kappa:.3f}"
    share = percent(result.agreement) if result.agreement is not None else "-"
    say(f"{judge} on {result.n} labelled examples: agreement {share}, Cohen's kappa {kappa}, "
        f"{unreadable} unreadable")
    for label, row in result.confusion.items():
        say(f"  label {label}: " + ", ".join(f"judged {v} {n}" for v, n in row.items() if n))
