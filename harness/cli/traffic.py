"""`harness traffic`: a team's own logged requests as a suite (and its incumbent's answers as a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import DbOption, command_group, database, say

traffic_app = command_group("A team's own traffic (logged requests) as a suite.")


@traffic_app.command("import")
def traffic_import(
    source: Annotated[Path, typer.Argument(
        help="JSONL: request/response log lines, a Batch API input file, plain {messages, ...} lines, an OTLP JSON "
             "export of OpenTelemetry GenAI spans, or LiteLLM standard logging payloads.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Suite name for this traffic (letters, digits, _ -).")],
    incumbent: Annotated[str | None, typer.Option(
        help="Profile that answered the logged requests: its logged answers become an imported run of it.")] = None,
    batch_output: Annotated[Path | None, typer.Option(
        help="The Batch API output file that goes with a Batch input file (joined on custom_id).")] = None,
    redact: Annotated[bool, typer.Option(
        help="Also mask e-mail addresses, phone and card numbers in message text (credentials always go).")] = False,
    max_tokens: Annotated[int, typer.Option(
        help="Least token cap for requests whose body sets none (4x the incumbent's logged output tokens when "
             "larger).", min=1)] = 512,
    force: Annotated[bool, typer.Option(help="Replace an earlier import of the same name.")] = False,
    db: DbOption = None,
) -> None:
    """Import logged traffic: every line checked first (nothing is written on an error), credentials
    removed, one replay task per kind of request (tools, json, text) under tasks/traffic/NAME.

    Example: harness traffic import requests.jsonl --name support --incumbent gpt-4o
    """
    from harness.run.traffic_import import ImportOptions, import_traffic

    outcome = import_traffic(ImportOptions(source, name, incumbent, batch_output, redact, max_tokens, force, db))
    kinds = ", ".join(f"{n} {kind}" for kind, n in outcome.counts.items())
    say(f"suite '{outcome.name}': {sum(outcome.counts.values())} requests ({kinds}) from {outcome.shape} lines, "
        f"written to {outcome.suite_file}")
    cleaned = f"{outcome.credentials_removed} credential(s) removed"
    masked = f"; {outcome.redactions} personal value(s) masked" if redact else ""
    unscored = (f"; {outcome.without_expected} request(s) have no answer to compare with and are scored on "
                "validity alone" if outcome.without_expected else "")
    say(f"{cleaned}{masked}{unscored}")
    for note in outcome.notes:
        say(note)
    say(outcome.rhythm.line())
    if outcome.run_id:
        say(f"the logged answers are run {outcome.run_id} of '{incumbent}' (imported) in {database(db)}; "
            f"compare: harness compare -b {incumbent} -c smollm2 --suite {name}")
    else:
        say(f"run it: harness eval -p PROFILE --suite {name}")
