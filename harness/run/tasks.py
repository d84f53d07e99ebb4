"""Find and load lm-eval tasks: ours from `tasks/`, extra folders, and lm-eval's built-ins on demand."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from harness.config.paths import cache_dir, tasks_dir
from harness.digest import sha256_hex
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


def _builtin_index_file() -> Path:
    import lm_eval
    from lm_eval import tasks

    folder = Path(tasks.__file__).parent
    key = sha256_hex(f"{getattr(lm_eval, '__version__', '')}:{folder}:{folder.stat().st_mtime_ns}", 16)
    return cache_dir() / "lm-eval-tasks" / f"{key}.json"


def builtin_task_names() -> set[str] | None:
    """lm-eval's built-in task, group and tag names as last indexed by this lm-eval install, or None
    (indexing them takes ~16 s here; a name outside them is then refused at once)."""
    try:
        return set(json.loads(_builtin_index_file().read_text()))
    except (OSError, ValueError):
        return None


def _remember_builtins(manager: Any) -> None:
    """Keep the names of an index that includes the built-ins (ours are re-read on every run)."""
    ours = set(task_manager([tasks_dir()], with_builtins=False).all_tasks)
    names = sorted(set(manager.all_tasks) - ours)
    path = _builtin_index_file()
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(names))
        staged.replace(path)


def load_tasks(names: list[str], include_path: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Return (task manager, lm-eval's loaded task dict); unknown or broken tasks raise one line.
    Our folders are read first; lm-eval's built-ins are indexed only for a name ours lack."""
    paths = [tasks_dir()] + ([include_path] if include_path else [])
    manager = task_manager(paths, with_builtins=False)
    missing = [name for name in names if name not in manager.all_tasks]
    if missing:
        known = builtin_task_names()
        if known is not None and missing[0] not in known:
            raise HarnessError(f"unknown task '{missing[0]}': not in {tasks_dir()} nor lm-eval's built-in tasks")
        manager = task_manager(paths, with_builtins=True)
        if known is None:
            _remember_builtins(manager)
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
    known = builtin_task_names()
    if known is None:  # indexed once (~16 s), then remembered
        builtins = task_manager([], with_builtins=True)
        _remember_builtins(builtins)
        known = set(builtins.all_tasks)
    return "lm-eval's built-in tasks" if name in known else None


def custom_tasks() -> list[str]:
    """Tasks made by `harness tasks new` (folders under tasks/custom/)."""
    folder = tasks_dir() / "custom"
    return sorted(p.name for p in folder.iterdir() if (p / f"{p.name}.yaml").is_file()) if folder.is_dir() else []
