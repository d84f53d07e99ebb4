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
