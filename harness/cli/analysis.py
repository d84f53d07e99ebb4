"""Decision commands (`compare`, `probe`, `risk`, `report`): parse options, call analysis or probes, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.common import (
    MAX_ERROR_RATE,
    BaselineOption,
    CandidatesOption,
    DbOption,
    FormatOption,
    MaxErrorRateOption,
    SuiteFilterOption,
    console,
    database,
    names,
    parse_format,
    say,
)
from harness.cli.output import print_json, render
from harness.errors import HarnessError

# Columns of `--format table`; json and csv carry every column.
_TABLE = (
    ("task", "task"), ("n", "n"), ("baseline", "baseline_mean"), ("candidate", "candidate_mean"), ("gap", "gap"),
    ("95% CI", "ci"), ("retained", "retained"), ("p gap=0", "p_value"), ("p verdict", "p_verdict"),
    ("verdict", "verdict"),
    ("n to decide", "samples_needed"), ("errored base/cand", "errors"), ("$/1k base→cand", "cost"),
    ("p50 ms base→cand", "p50"), ("losses: baseline right, candidate not", "losses"),
)


RequestsPerDay = Annotated[float | None, typer.Option(
    help="The team's volume: with it, both monthly bills (API token prices, or self-hosted replicas sized "
         "from `harness load` tests) are shown beside the verdict [default: the imported traffic's, from "
         "the times its requests were sent].", min=0)]
PeakFactor = Annotated[float | None, typer.Option(
    help="Peak request rate over the mean [default: the imported traffic's busiest minute against its mean "
         "per minute, else 3].", min=1)]
SloTtft = Annotated[float, typer.Option(help="Target p95 time to first token (ms), for replica sizing.", min=1)]
SloItl = Annotated[float, typer.Option(help="Target p95 inter-token latency (ms), for replica sizing.", min=1)]
ServingOption = Annotated[str | None, typer.Option(
    help="The profile whose load tests size the candidate (a server of its model, e.g. llamacpp for smollm2).")]


def _sizing(requests_per_day: float | None, peak: float | None, ttft: float, itl: float) -> Any:
    """The figures given; those left out are the compared suite's imported traffic's."""
    from harness.analysis.sizing import Sizing

    return Sizing(requests_per_day, peak, ttft, itl)


def _sized(targets: Any) -> dict[str, Any] | None:
    """What the bills were sized at, and where each figure came from (`--format json`)."""
    if targets is None:
        return None
    return {"requests_per_day": targets.requests_per_day, "requests_per_day_from": targets.volume_from,
            "peak_factor": targets.peak_factor, "peak_factor_from": targets.peak_from,
            "slo_ttft_ms": targets.slo_ttft_ms, "slo_itl_ms": targets.slo_itl_ms}


def print_bills(bills: list[Any]) -> None:
    """Each side's monthly bill and the assumptions behind it."""
    for bill in bills:
        amount = f"${bill.monthly_usd:,.2f}/month" if bill.monthly_usd is not None else "no bill"
        say(f"bill, {bill.side} {bill.provider} ({bill.kind}): {amount}")
        for line in bill.assumptions:
            say(f"  - {line}")


def compare_cmd(
    baseline: Annotated[str, typer.Option("--baseline", "-b", callback=names("baseline"),
        help="Incumbent: a provider name or a run id.")],
    candidate: Annotated[str, typer.Option("--candidate", "-c", callback=names("candidate"),
        help="Candidate: a provider name or a run id.")],
    suite: Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
        help="Only runs of this suite.")] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin in score points (0.05 = 5 points).")] = 0.05,
    allow_mismatch: Annotated[bool, typer.Option(
        "--allow-mismatch", help="Compare runs that differ in docs, versions, few-shot, decoding or template; "
                                 "every output is labelled.")] = False,
    holm: Annotated[bool, typer.Option("--holm", help="Add Holm-adjusted p-values across tasks.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Paired bootstrap resamples (seeded).", min=100)] = 2000,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    judge: Annotated[str | None, typer.Option(
        callback=names("judge"),
        help="Show this judge's pairwise verdicts (default: the latest judge's, when the runs were judged).")] = None,
    requests_per_day: RequestsPerDay = None,
    peak_factor: PeakFactor = None,
    slo_ttft_ms: SloTtft = 1000.0,
    slo_itl_ms: SloItl = 100.0,
    serving: ServingOption = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="For CI: 'infeasible' exits 1 when OVERALL or any task is infeasible; 'inconclusive' "
                          "exits 1 unless every verdict is feasible.")] = None,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Quality gap per task and overall, with exact 95% CIs and a migration verdict against a margin.

    Example: harness compare --baseline gpt-4o --candidate smollm2 --suite core --margin 0.05 --fail-on infeasible
    """
    from harness.analysis.compare import CompareOptions, compare, gate, record

    if fail_on not in (None, "infeasible", "inconclusive"):
        raise HarnessError(f"--fail-on takes 'infeasible' or 'inconclusive', got {fail_on!r}")
    output = parse_format(fmt)
    result = compare(database(db), CompareOptions(
        baseline=baseline, candidate=candidate, suite=suite, margin=margin, allow_mismatch=allow_mismatch,
        holm=holm, bootstrap_iterations=bootstrap, max_error_rate=max_error_rate, judge=judge,
        # Bills when asked for: a volume given, or a server to size (then at the traffic's volume).
        sizing=_sizing(requests_per_day, peak_factor, slo_ttft_ms, slo_itl_ms)
        if requests_per_day is not None or serving else None, serving=serving,
    ))
    record(database(db), result)
    if output == "json":
        print_json(_comparison_json(result))
    elif output == "csv":
        columns = list(result.rows[0])
        render(columns, [[_csv_value(r[c]) for c in columns] for r in result.rows], "csv", console)
    else:
        _print_comparison(result, baseline, candidate, margin)
    failing = gate(result, fail_on)
    if failing:
        say(f"error: --fail-on {fail_on}: {'; '.join(failing)}", stderr=True)
        sys.exit(1)


def _comparison_json(result: Any) -> dict[str, Any]:
    """Everything `compare --format json` shows."""
    return {
        "baseline": result.baseline, "candidate": result.candidate, "suite": result.suite,
        "margin": result.margin, "label": result.label, "mismatches": result.mismatches,
        "capability_gaps": result.capability_gaps, "latency_basis": result.latency_basis,
        "unsupported": result.unsupported,
        "losses": {task: {"discordant": entry.discordant, "classes": entry.classes}
                   for task, entry in result.losses.items()},
        "judged": {"rows": result.judged.rows, "calibration": result.judged.calibration,
                   "rubric": result.judged.rubric},
        "sizing": _sized(result.targets), "sizing_note": result.sizing_note,
        "bills": [vars(bill) for bill in result.bills],
        "constraints": [check.as_dict() for check in result.constraint_checks],
        "what_if_decoding": vars(result.what_if) if result.what_if else None,
        "rows": result.rows,
    }


def _print_comparison(result: Any, baseline: str, candidate: str, margin: float) -> None:
    from harness.analysis.compare import latency_notes, unsupported_notes
    from harness.analysis.constraints import fail_open_notes
    from harness.analysis.gaps import row_notes

    if result.label:
        say(result.label, stderr=True)
    title = f"{candidate} vs {baseline} (margin {margin:g})" + (" — MISMATCHED" if result.label else "")
    render([name for name, _ in _TABLE], [[_cell(r, key) for _, key in _TABLE] for r in result.rows], "table",
           console, title=title)
    notes = [*fail_open_notes(result.constraint_checks), *unsupported_notes(result), *latency_notes(result),
             *row_notes(result.rows)]
    for note in notes:
        say(f"note: {note}")
    if result.what_if:
        _what_if_table(result.what_if)
    for gap in result.capability_gaps:
        say(f"capability gap: the suite needs {gap['feature']}; {result.candidate_provider} "
            f"{gap['candidate_status']} ({gap['candidate_source']}), {result.baseline_provider} "
            f"{gap['baseline_status']}")
    if result.sizing_note:
        say(f"note: sizing: {result.sizing_note}")
    print_bills(result.bills)
    if result.judged.rows:
        _judged_table(result.judged, candidate, baseline)
    if result.judged.rubric:
        render(["task", "n", "baseline", "candidate", "gap", "95% CI", "verdict"],
               [[r["task"], r["n"], f"{r['baseline_mean']:.3f}", f"{r['candidate_mean']:.3f}", f"{r['gap']:+.3f}",
                 _span(r["ci_low"], r["ci_high"]), _cell(r, "verdict")] for r in result.judged.rubric], "table",
               console,
               title=f"rubric grades by {result.judged.rubric[0]['judge']}: {candidate} vs {baseline}")


def _what_if_table(what_if: Any) -> None:
    """The candidate's gap with and without constrained decoding, and the share of the loss it fixes."""
    rows = [[r["task"], r["n"], f"{r['gap_unconstrained']:+.3f}", _span(*r["ci_unconstrained"]),
             f"{r['gap_constrained']:+.3f}", _span(*r["ci_constrained"]), f"{r['fixed']:+.3f}",
             _span(*r["ci_fixed"]), "-" if r["share_fixed"] is None else f"{r['share_fixed']:.0%}"]
            for r in what_if.rows]
    render(["task", "n", "gap unconstrained", "95% CI", f"gap {what_if.constrained}", "95% CI", "decoding fixes",
            "95% CI", "share of loss fixed"], rows, "table", console,
           title=f"what-if: {what_if.provider} with constrained decoding ({what_if.constrained}, run "
                 f"{what_if.constrained_run}) and without (run {what_if.unconstrained_run})")


def _judged_table(judged: Any, candidate: str, baseline: str) -> None:
    columns = ["task", "n", "wins", "ties", "losses", "win - loss", "95% CI", "p", "verdict", "both orders agree"]
    rows = [[r["task"], r["n"], r["wins"], r["ties"], r["losses"], f"{r['gap']:+.3f}", _span(r["ci_low"], r["ci_high"]),
             _cell(r, "p_value"), _cell(r, "verdict"), f"{r['position_consistency']:.0%}"] for r in judged.rows]
    render(columns, rows, "table", console,
           title=f"judged by {judged.judge}: {candidate} vs {baseline} (pairwise, both orders)")
    calibration = judged.calibration
    if calibration:
        kappa = "undefined" if calibration["kappa"] is None else f"{calibration['kappa']:.2f}"
        say(f"judge {judged.judge}: Cohen's kappa {kappa} against {calibration['n']} labelled pairs "
            f"({calibration['labels_file']}, {calibration['calibrated_at']:%Y-%m-%d})")
    else:
        say(f"judge {judged.judge}: not calibrated; run `harness judge calibrate --judge {judged.judge} "
            "--labels FILE` on a labelled sample")


def _csv_value(value: Any) -> Any:
    return ";".join(f"{v:.6g}" for v in value) if isinstance(value, tuple | list) else value


def _cell(row: dict[str, Any], key: str) -> Any:
    from harness.analysis.gaps import p_verdict, verdict_text

    if key == "ci":
        return _span(row["ci_low"], row["ci_high"])
    if key == "cost":
        return _pair(row["baseline_cost_per_1k"], row["candidate_cost_per_1k"], "{:.4g}")
    if key == "p50":
        return _pair(row["baseline_p50_ms"], row["candidate_p50_ms"], "{:.0f}")
    if key == "verdict":
        return verdict_text(row)
    if key in ("p_verdict", "p_value"):
        value = p_verdict(row) if key == "p_verdict" else row.get(key)
        return None if value is None else f"{value:.3g}"
    if key == "errors":
        return f"{row['baseline_errors'] or 0}/{row['candidate_errors'] or 0}"
    value = row.get(key)
    if key in ("baseline_mean", "candidate_mean", "retained"):
        return None if value is None else f"{value:.3f}"
    if key == "gap":
        return f"{value:+.3f}"
    return value


def _span(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:+.3f}, {high:+.3f}]"


def _pair(left: float | None, right: float | None, spec: str) -> str:
    if left is None and right is None:
        return ""
    show = lambda v: "—" if v is None else spec.format(v)  # noqa: E731
    return f"{show(left)} → {show(right)}"


def probe_cmd(
    provider: Annotated[str, typer.Option("--provider", "-p", callback=names("provider"),
        help="Profile name in providers/.")],
    base_url: Annotated[str | None, typer.Option(help="Override an openai profile's base_url.")] = None,
    model: Annotated[str | None, typer.Option(help="Override an openai profile's model name.")] = None,
    model_path: Annotated[str | None, typer.Option(help="Local weights folder or .gguf for hf profiles.")] = None,
    max_context: Annotated[int, typer.Option(help="Largest prompt (in words) the context probe sends.",
                                             min=512)] = 32768,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Probe a provider's API features (system prompt, stops, JSON mode, tools, logprobs …) and store them.

    Example: harness probe --provider local-openai --base-url http://127.0.0.1:8080/v1
    """
    from harness.config.overrides import Overrides
    from harness.probes.run import probe

    output = parse_format(fmt)
    results = probe(provider, Overrides(base_url=base_url, model=model, model_path=model_path), database(db),
                    max_context=max_context)
    rows = [(r.capability, r.status, r.value, json.dumps(r.evidence, ensure_ascii=False)[:120]) for r in results]
    render(["capability", "status", "value", "evidence"], rows, output, console, title=f"probes: {provider}")


def risk_cmd(
    incumbent: Annotated[str, typer.Option("--incumbent", "-i", callback=names("incumbent"),
        help="The provider a product depends on now.")],
    candidate: Annotated[list[str] | None, typer.Option(
        "--candidate", "-c", callback=names("candidate"),
            help="A provider to move to (repeat); default: every other provider with runs.")] = None,
    suite: Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
        help="Only runs of this suite.")] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin in score points.")] = 0.05,
    weights: Annotated[Path | None, typer.Option(help="TOML file with a [risk] table of part weights.")] = None,
    allow_mismatch: Annotated[bool, typer.Option("--allow-mismatch", help="Score non-comparable runs too.")] = False,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Lock-in risk (0-100) of an incumbent against each candidate, best candidate first, with every part.

    Example: harness risk --incumbent gpt-4o --candidate smollm2 --suite core
    """
    from harness.analysis.risk import RISK_PARTS, RiskOptions, assess, load_weights

    output = parse_format(fmt)
    rows, notes = assess(database(db), RiskOptions(
        incumbent=incumbent, candidates=candidate or [], suite=suite, margin=margin, weights=load_weights(weights),
        allow_mismatch=allow_mismatch, max_error_rate=max_error_rate))
    for note in notes:
        say(note, stderr=True)
    if output == "json":
        print_json(rows)
        return
    columns = ["candidate", "score", *(f"{p} (w {rows[0]['w_' + p]:g})" for p in RISK_PARTS)]
    table = [[r["candidate"], round(r["score"], 1), *(round(r[p], 3) for p in RISK_PARTS)] for r in rows]
    render(columns, table, output, console, title=f"lock-in risk of {incumbent} (best candidate first)")


def report_cmd(
    baseline: BaselineOption,
    candidate: CandidatesOption,
    suite: SuiteFilterOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file (or x.md); the other twin goes beside "
                                         "it. Only an earlier report there is replaced.")]
    = Path("runs/report.html"),
    margin: Annotated[float, typer.Option(help="Non-inferiority margin in score points.")] = 0.05,
    weights: Annotated[Path | None, typer.Option(help="TOML file with a [risk] table of part weights.")] = None,
    allow_mismatch: Annotated[bool, typer.Option("--allow-mismatch", help="Report non-comparable runs, "
                                                 "labelled as such.")] = False,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    requests_per_day: RequestsPerDay = None,
    peak_factor: PeakFactor = None,
    slo_ttft_ms: SloTtft = 1000.0,
    slo_itl_ms: SloItl = 100.0,
    serving: ServingOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite files at -o (or its twin) that are not an earlier "
                                        "report; without it they are refused.")] = False,
    db: DbOption = None,
) -> None:
    """Write the decision-review report: one self-contained HTML page, a Markdown twin, and beside them
    the sample browser (x.pairs.html: every pair side by side, filters, permalinks; opens from a file).

    Only an earlier report (HTML or Markdown the harness wrote) is replaced without --force.

    Example: harness report --baseline gpt-4o --candidate smollm2 --suite core -o runs/review.html
    """
    from harness.analysis.pairs import browse
    from harness.analysis.review import ReportOptions, build
    from harness.analysis.risk import load_weights
    from harness.report.render import claim, write

    plan = claim(output, force)  # before the (slow) build: a refusal comes first
    data = build(database(db), ReportOptions(
        baseline=baseline, candidates=candidate, suite=suite, margin=margin, weights=load_weights(weights),
        allow_mismatch=allow_mismatch, max_error_rate=max_error_rate,
        sizing=_sizing(requests_per_day, peak_factor, slo_ttft_ms, slo_itl_ms), serving=serving))
    pairs = browse(database(db), baseline, candidate, suite)
    say(plan)
    html, markdown, browser = write(data, output, pairs)
    say(f"report written: {html} and {markdown}; every pair in {browser}")
