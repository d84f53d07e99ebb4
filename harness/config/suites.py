"""Suites (`tasks/<suite>.yaml`): which lm-eval tasks run, their weights, and the API features needed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.config.features import Feature
from harness.config.names import check_name
from harness.config.paths import tasks_dir
from harness.errors import HarnessError, one_line


class PrimaryMetric(BaseModel):
    """Which score a comparison uses; by default the task's first metric and first filter."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = None
    filter: str | None = None


class SuiteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    weight: float = Field(default=1.0, gt=0)  # the team's traffic share; normalised when combined
    primary: PrimaryMetric | None = None


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suite: str
    description: str = ""
    version: int = 1
    tasks: list[SuiteTask] = Field(min_length=1)
    features: list[Feature] = []
    content_hash: str = ""

    @property
    def task_names(self) -> list[str]:
        return [t.task for t in self.tasks]

    def weight(self, task: str) -> float:
        return next((t.weight for t in self.tasks if t.task == task), 1.0)

    def primary(self, task: str) -> PrimaryMetric | None:
        return next((t.primary for t in self.tasks if t.task == task), None)


def available_suites() -> list[str]:
    """Suite names: YAML files at the top of the tasks folder."""
    folder = tasks_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_suite(name: str) -> Suite:
    """Read and validate `tasks/<name>.yaml`; each problem is one HarnessError line."""
    path = tasks_dir() / f"{check_name('suite', name)}.yaml"
    if not path.is_file():
        known = ", ".join(available_suites()) or "none"
        raise HarnessError(f"unknown suite '{name}': no {path}; known: {known}")
    return parse_suite(path)


def parse_suite(path: Path) -> Suite:
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"{path}: bad YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a mapping with 'suite' and 'tasks'")
    data.setdefault("suite", path.stem)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise HarnessError(one_line(str(path), exc)) from exc
    duplicates = {t for t in suite.task_names if suite.task_names.count(t) > 1}
    if duplicates:
        raise HarnessError(f"{path}: tasks listed twice: {', '.join(sorted(duplicates))}")
    suite.content_hash = hashlib.sha256(raw).hexdigest()[:16]
    return suite


def adhoc_suite(task_names: list[str]) -> Suite:
    """A suite made of tasks named on the command line, equally weighted."""
    return Suite(suite="adhoc", tasks=[SuiteTask(task=check_name("task", t)) for t in task_names])
