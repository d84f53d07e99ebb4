"""The root `harness` app: every command group registered once, and the entry point that turns
errors into one line and an exit code."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from harness.cli.analysis import compare_cmd, probe_cmd, report_cmd, risk_cmd
from harness.cli.browse import browse_cmd
from harness.cli.capture import capture_cmd
from harness.cli.catalog import data_app, providers_app, tasks_app
from harness.cli.common import say
from harness.cli.drift import drift_cmd
from harness.cli.eval import eval_cmd
from harness.cli.hosts import hosts_cmd
from harness.cli.judge import judge_app
from harness.cli.load import load_cmd
from harness.cli.runs import cache_app, runs_app, sql_cmd
from harness.cli.shards import export_cmd, merge_cmd
from harness.cli.traffic import traffic_app
from harness.errors import HarnessError

app = typer.Typer(
    help="Measure LLM vendor lock-in: run the same suites on open and proprietary models, compare in SQL.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help is text: "[default: smollm2]" must not be read as a markup tag
)
for name, command in (("eval", eval_cmd), ("sql", sql_cmd), ("compare", compare_cmd), ("probe", probe_cmd),
                      ("risk", risk_cmd), ("report", report_cmd), ("export", export_cmd), ("merge", merge_cmd),
                      ("drift", drift_cmd), ("load", load_cmd), ("hosts", hosts_cmd), ("browse", browse_cmd),
                      ("capture", capture_cmd)):
    app.command(name)(command)
for name, group in (("providers", providers_app), ("tasks", tasks_app), ("runs", runs_app), ("data", data_app),
                    ("cache", cache_app), ("traffic", traffic_app), ("judge", judge_app)):
    app.add_typer(group, name=name)

_state = {"debug": False}


class _NoticeLines(logging.Handler):
    """Status lines from below the CLI ('loading model ...', 'waiting for the database lock ...'):
    printed on stderr as plain lines, like every other line the CLI prints."""

    def emit(self, record: logging.LogRecord) -> None:
        say(record.getMessage(), stderr=True)


def _show_notices() -> None:
    notices = logging.getLogger("harness.notice")
    if not any(isinstance(h, _NoticeLines) for h in notices.handlers):
        notices.addHandler(_NoticeLines())
    notices.setLevel(logging.INFO)
    notices.propagate = False


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _show_notices()
    if not debug:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TQDM_DISABLE", "1")
        # The hub client logs each retry of an unreachable host; the command's own error says it once.
        # (Its loggers take their level from these variables when they are first configured.)
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
        os.environ.setdefault("DATASETS_VERBOSITY", "error")
        for noisy in ("huggingface_hub", "datasets", "fsspec", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


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


def _caused_by_interrupt(exc: BaseException) -> bool:
    """A Ctrl-C that a library wrapped: Python 3.11 turns one raised while a class body is set up during
    an import into RuntimeError('Error calling __set_name__ ...') with the interrupt as its cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def main() -> None:
    """Entry point: one line and exit 2 for user errors (full traceback with --debug)."""
    try:
        code = app(standalone_mode=False, prog_name="harness")
        if isinstance(code, int) and code:
            if code == 130:  # Ctrl-C outside a run (inside one, RunInterrupted says which run)
                say("error: interrupted", stderr=True)
            sys.exit(code)
    except HarnessError as exc:
        if _state["debug"]:
            raise
        say(f"error: {exc}", stderr=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # Ctrl-C before or after a run's own handling (inside, it names the run)
        say("error: interrupted", stderr=True)
        sys.exit(130)
    except Exception as exc:  # a bug or an unexpected library error: still one line, unless --debug
        if type(exc).__name__ == "Abort" or _caused_by_interrupt(exc):  # a Ctrl-C, wrapped
            say("error: interrupted", stderr=True)
            sys.exit(130)
        usage = _usage_line(exc)
        if usage is not None:
            if usage[0]:
                say(usage[0], stderr=True)
            sys.exit(usage[1])
        if _state["debug"]:
            raise
        detail = " ".join(str(exc).split())[:300]
        say(f"error: {type(exc).__name__}: {detail} (run with --debug for the traceback)", stderr=True)
        sys.exit(1)
