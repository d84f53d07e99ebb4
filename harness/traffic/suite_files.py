"""An imported traffic file as a suite: `tasks/<name>.yaml` naming one replay task per kind of
request (`<name>_tools`, `<name>_json`, `<name>_text`), weighted by how many requests of that kind
the traffic holds, each task a folder under `tasks/traffic/<name>/` (lm-eval YAML, docs, loaders).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.config.paths import tasks_dir
from harness.textfile import lm_eval_yaml, write_folder
from harness.traffic.score import LOWER_IS_BETTER, METRICS

_LOADER = '''"""Loads this task's docs (written by `harness traffic import`)."""
from pathlib import Path

from harness.traffic.replay import load_docs


def load(**kwargs):
    return load_docs(Path(__file__).with_name("docs.jsonl"))
'''

_TASK = '''"""The replay task class (written by `harness traffic import`)."""
from harness.traffic.replay import ReplayTask  # noqa: F401
'''


def replay_task_files(task: str, kind: str, docs: list[dict[str, Any]], max_tokens: int,
                      metadata: dict[str, Any]) -> dict[str, str]:
    """The files of one replay task folder: its YAML, docs and the two modules the YAML names."""
    config = {
        "task": task, "tag": "replay", "class": "CLASS", "custom_dataset": "LOADER",
        "output_type": "generate_until", "test_split": "test", "doc_to_text": "{{preview}}",
        "doc_to_target": "{{target}}",
        "generation_kwargs": {"until": [], "max_gen_toks": max_tokens, "do_sample": False, "temperature": 0.0},
        "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": m not in LOWER_IS_BETTER}
                        for m in METRICS[kind]],
        "metadata": {"version": 1.0, "kind": kind, **metadata},
    }
    lines = "".join(json.dumps({"id": i, **doc}, ensure_ascii=False) + "\n" for i, doc in enumerate(docs))
    return {f"{task}.yaml": lm_eval_yaml(config, {"CLASS": "task.ReplayTask", "LOADER": "loader.load"}),
            "docs.jsonl": lines, "loader.py": _LOADER, "task.py": _TASK}


@dataclass
class TrafficSuite:
    name: str
    folder: Path  # tasks/traffic/<name>
    suite_file: Path  # tasks/<name>.yaml
    counts: dict[str, int]  # requests per kind

    def task(self, kind: str) -> str:
        return f"{self.name}_{kind}"


def suite_paths(name: str) -> tuple[Path, Path]:
    return tasks_dir() / "traffic" / name, tasks_dir() / f"{name}.yaml"


def write_suite(name: str, docs: dict[str, list[dict[str, Any]]], features: list[str], max_tokens: int,
                note: str) -> TrafficSuite:
    """Write every task folder, then the suite file last (a suite never names a task not yet there).
    An earlier import of the same name is replaced whole."""
    folder, suite_file = suite_paths(name)
    counts = {kind: len(items) for kind, items in docs.items() if items}
    staged = folder.with_name(f".{name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    for kind in counts:
        task = f"{name}_{kind}"
        write_folder(staged / task, replay_task_files(task, kind, docs[kind], max_tokens, {"traffic": name}))
    suite = {"suite": name, "description": f"Imported traffic: {note}", "version": 1,
             "tasks": [{"task": f"{name}_{kind}", "weight": n} for kind, n in counts.items()],
             "features": sorted(features)}
    text = f"# Written by `harness traffic import`; {note}\n" + yaml.safe_dump(suite, sort_keys=False,
                                                                                 allow_unicode=True)
    if folder.exists():
        shutil.rmtree(folder)
    staged.rename(folder)
    temporary = suite_file.with_suffix(".yaml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(suite_file)
    return TrafficSuite(name, folder, suite_file, counts)


def remove_suite(name: str) -> None:
    """Undo an import whose incumbent run could not be stored (nothing half-made is left)."""
    folder, suite_file = suite_paths(name)
    suite_file.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def imported_suites() -> list[str]:
    """Names of suites written by `harness traffic import`."""
    root = tasks_dir() / "traffic"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
