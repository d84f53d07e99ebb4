"""`harness eval`: parse the options, run the suite with a progress bar, print the scores."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.cli.common import DbOption, console, database, err, names, say
from harness.cli.output import render
from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.run.runner import EvalOptions

# Without a terminal (cron, CI, a log file) progress is a plain line this often, in seconds.
PROGRESS_EVERY_S = 30.0


class _Bar:
    """Adapts the runner's Progress hooks to the user: a rich bar on a terminal, shown only once
    generation starts (so an early error prints its one line without a bar around it); without one,
    a plain line every PROGRESS_EVERY_S seconds ($HARNESS_PROGRESS_EVERY_S), so a long run in cron
    or CI is never silent. Short runs stay quiet."""

    def __init__(self, label: str) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=err, transient=True)
        self.task = self.progress.add_task("generating", total=None)
        self.started = False
        self.plain = not err.is_terminal  # piped or captured: a bar would only leave a blank line behind
        self.label, self.total, self.done, self.errors = label, 0, 0, 0
        self.every_s = _every_s()
        self.last_line = time.monotonic()
        self.lines = 0

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        if self.plain:
            return
        self.started = True
        self.progress.start()
        self.progress.update(self.task, total=total, completed=0)

    def advance(self, n: int = 1, errors: int = 0) -> None:
        self.done += n
        self.errors += errors
        if not self.plain:
            self.progress.advance(self.task, n)
        elif time.monotonic() - self.last_line >= self.every_s:
            self._line()

    def _line(self, suffix: str = "") -> None:
        self.last_line = time.monotonic()
        self.lines += 1
        say(f"{self.label}: {self.done}/{self.total} docs, {self.errors} errors{suffix}", stderr=True)

    def close(self) -> None:
        if self.started:
            self.progress.stop()
        if self.plain and self.lines:  # a log that said where the run was also says that generation ended
            self._line(", generation done")


def _every_s() -> float:
    value = os.environ.get("HARNESS_PROGRESS_EVERY_S", "")
    try:
        return float(value) if value else PROGRESS_EVERY_S
    except ValueError:
        return PROGRESS_EVERY_S


def _label(provider: str | None, suite: str | None, task: list[str] | None, resume: str | None) -> str:
    if resume and not provider:
        return f"eval --resume {resume}"
    scope = suite or (",".join(task) if task else "smoke")
    return f"eval {provider or 'smollm2'} on {scope}"


def eval_cmd(
    provider: Annotated[str | None, typer.Option(
        "--provider", "-p", callback=names("provider"), help="Profile name in providers/ [default: smollm2].")] = None,
    suite: Annotated[str | None, typer.Option("--suite", "-s", callback=names("suite"),
        help="Suite name in tasks/ [default: smoke].")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Run these tasks instead of a suite.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N docs per task (for quick checks).", min=1)] = None,
    model_path: Annotated[str | None, typer.Option(help="Local weights folder or .gguf for hf profiles.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the profile's batch size.", min=1)] = None,
    include_path: Annotated[Path | None, typer.Option(help="Extra folder of lm-eval task YAMLs.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Override an openai profile's base_url.")] = None,
    model: Annotated[str | None, typer.Option(help="Override an openai profile's model name.")] = None,
    resume: Annotated[str | None, typer.Option(
        help="Finish an unfinished run (RUN_ID, or 'latest' for this provider and suite) under its own id; "
             "stored generations are reused.")] = None,
    cache: Annotated[bool | None, typer.Option(
        help="Reuse and store answers in the response cache [default: cache; a resume keeps the run's own].",
        show_default=False)] = None,
    cache_sampled: Annotated[bool | None, typer.Option(
        help="Also cache sampled (temperature > 0) requests; they carry the profile's seed "
             "[default: no-cache-sampled; a resume keeps the run's own].", show_default=False)] = None,
    max_error_rate: Annotated[float, typer.Option(
        help="Largest share of errored generations a run may have and still complete (0.02 = 2%); above it "
             "the run ends 'failed', naming the commonest error.", min=0.0, max=1.0)] = DEFAULT_MAX_ERROR_RATE,
    processes: Annotated[int, typer.Option(
        help="Data-parallel processes for hf models (accelerate launch; one per GPU, or CPU shares).",
        min=1)] = 1,
    repeat: Annotated[int, typer.Option(
        help="Run the suite this many times, each a run of its own that asks the provider again (no cache): "
             "the run-to-run noise `harness hosts` and drift read.", min=1, max=20)] = 1,
    db: DbOption = None,
) -> None:
    """Run a suite on a provider and store every sample.

    Example: harness eval --provider smollm2 --suite smoke
    """
    from harness.run import distributed
    from harness.run.runner import EvalOptions

    _check_repeat(repeat, resume, cache, processes)
    if processes > 1 and "WORLD_SIZE" not in os.environ:
        sys.exit(distributed.relaunch(sys.argv[1:], processes, limit, debug="--debug" in sys.argv))

    options = EvalOptions(provider=provider, suite=suite, tasks=task or None, limit=limit, db=db,
                          model_path=model_path, batch_size=batch_size, include_path=include_path,
                          base_url=base_url, model=model, resume=resume,
                          cache=False if repeat > 1 else cache, cache_sampled=cache_sampled,
                          max_error_rate=max_error_rate)
    for round_ in range(1, repeat + 1):
        if repeat > 1:
            say(f"repeat {round_} of {repeat}", stderr=True)
        _eval_once(options, _label(provider, suite, task, resume), db)


def _check_repeat(repeat: int, resume: str | None, cache: bool | None, processes: int) -> None:
    if repeat == 1:
        return
    if resume:
        raise HarnessError("--repeat starts new runs; it cannot be combined with --resume")
    if cache:
        raise HarnessError("--repeat measures run-to-run noise, so every repeat asks the provider again: "
                           "drop --cache")
    if processes > 1:
        raise HarnessError("--repeat runs in one process; run `harness eval --processes N` once per repeat")


def _eval_once(options: EvalOptions, label: str, db: Path | None) -> None:
    from harness.run import distributed
    from harness.run.runner import run_eval

    main = distributed.current().is_main
    bar = _Bar(label) if main else None
    try:
        outcome = run_eval(options, bar, notify=lambda line: say(line, stderr=True))
    finally:
        if bar is not None:
            bar.close()
    if not main:
        return  # the main process reports for all of them
    rows = [(s["task"], s["metric"], s["filter"], s["value"], s["stderr"], s["n"]) for s in outcome.scores]
    render(["task", "metric", "filter", "score", "stderr", "n"], rows, "table", console, title=f"run {outcome.run_id}")
    # Tokens/s only over what the provider generated in this session: cached answers cost no time.
    speed = (f" ({outcome.output_tokens / outcome.wall_s:.1f} generated tokens/s)"
             if outcome.provider_calls and outcome.wall_s else "")
    reused = f"{outcome.replayed} resumed, " if outcome.replayed else ""
    errored = f"; {outcome.n_errors} errored (not scored as answers)" if outcome.n_errors else ""
    say(f"{outcome.n_requests} samples in {outcome.wall_s:.1f} s{speed}; "
        f"{reused}{outcome.cache_hits} from the cache, {outcome.provider_calls} provider calls{errored}; "
        f"stored in {database(db)}")
