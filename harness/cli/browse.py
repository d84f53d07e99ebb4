"""`harness browse`: the sample browser by itself (`harness report` writes one beside its pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import BaselineOption, CandidatesOption, DbOption, SuiteFilterOption, database, say


def browse_cmd(
    baseline: BaselineOption,
    candidate: CandidatesOption,
    suite: SuiteFilterOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The page to write. Only an earlier page the "
                                         "harness wrote is replaced.")] = Path("runs/pairs.html"),
    force: Annotated[bool, typer.Option(help="Overwrite a file at -o that the harness did not write.")] = False,
    db: DbOption = None,
) -> None:
    """Write the sample browser: one self-contained page with every paired document of the latest runs
    side by side (the request, both answers with their tool calls, scores, failure class, tokens,
    latency, errors, judge verdicts, a word diff), filters with counts, keyboard navigation and a
    permalink per pair. It opens from a file, with no server and no network.

    Example: harness browse -b gpt-4o -c smollm2 -s support -o runs/pairs.html
    """
    from harness.analysis.pairs import browse
    from harness.outputs import claim_file, how, parent_folder, write_together
    from harness.report.browser import render_browser

    parent_folder(output)
    state = claim_file(output, "sample browser", force)
    data = browse(database(db), baseline, candidate, suite)
    say(f"writing {how(output, state)}")
    write_together({output: render_browser(data)}, "sample browser")
    say(f"{len(data.pairs)} pairs in {output}")
