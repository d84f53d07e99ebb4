"""Find and load lm-eval tasks: ours from `tasks/`, extra folders, and lm-eval's built-ins on demand."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.config.paths import tasks_dir
from harness.errors import HarnessError


def task_manager(include_paths: list[Path], with_builtins: bool) -> Any:
    """A TaskManager over our task folders; indexing lm-eval's built-ins costs ~6 s, so only on demand."""
    from lm_eval.tasks import TaskManager

    if logging.getLogger().level > logging.DEBUG:  # lm-eval's chatter stays visible under --debug
        logging.getLogger("lm_eval").setLevel(logging.ERROR)

    for path in include_paths:
        if not path.is_dir():
            raise HarnessError(f"task folder {path} does not exist")
    return TaskManager(include_path=[str(p) for p in include_paths], include_defaults=with_builtins)


def load_tasks(names: list[str], include_path: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Return (task manager, lm-eval's loaded task dict); unknown or broken tasks raise one line."""
    paths = [tasks_dir()] + ([include_path] if include_path else [])
    manager = task_manager(paths, with_builtins=False)
    if any(name not in manager.all_tasks for name in names):
        manager = task_manager(paths, with_builtins=True)
    unknown = [name for name in names if name not in manager.all_tasks]
    if unknown:
        raise HarnessError(f"unknown task '{unknown[0]}': not in {tasks_dir()} nor lm-eval's built-in tasks")
    try:
        loaded = manager.load(names)
    except HarnessError:
        raise
    except Exception as exc:  # lm-eval raises many types for bad YAML or missing data
        detail = " ".join(str(exc).split())[:300]
        if "Couldn't reach" in detail or "OfflineModeIsEnabled" in detail or isinstance(exc, ConnectionError):
            raise HarnessError(
                f"tasks {', '.join(names)} need their data from the Hugging Face hub, which cannot be reached "
                "(offline); run the offline pack tasks instead (`harness tasks list`, e.g. pack_gsm8k_cot)"
            ) from exc
        raise HarnessError(f"cannot load tasks {', '.join(names)}: {type(exc).__name__}: {detail}") from exc
    return manager, loaded


def existing_task(name: str) -> str | None:
    """Where a task of this name already comes from (our folders first, then lm-eval's built-ins),
    other than a custom task of that name; None if the name is free."""
    ours = task_manager([tasks_dir()], with_builtins=False)
    entry = ours.task_index.get(name)
    if entry is not None:
        path = getattr(entry, "yaml_path", None)
        if path is not None and Path(path).parent == tasks_dir() / "custom" / name:
            return None  # the custom task itself: --force replaces it
        return str(path) if path is not None else f"the tag or group '{name}' in {tasks_dir()}"
    builtins = task_manager([], with_builtins=True)
    return "lm-eval's built-in tasks" if name in builtins.all_tasks else None


def custom_tasks() -> list[str]:
    """Tasks made by `harness tasks new` (folders under tasks/custom/)."""
    folder = tasks_dir() / "custom"
    return sorted(p.name for p in folder.iterdir() if (p / f"{p.name}.yaml").is_file()) if folder.is_dir() else []
