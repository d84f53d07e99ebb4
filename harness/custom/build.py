"""Turn a team's JSONL (input, reference, optional metadata) into an lm-eval task folder.

Nothing is written until every row is valid; errors name their line numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.config.paths import tasks_dir
from harness.errors import HarnessError, one_line
from harness.textfile import lm_eval_yaml, text_lines, write_folder

Metric = Literal["exact", "contains", "regex", "numeric", "json_valid", "json_schema", "code"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CustomTaskSpec(BaseModel):
    """The YAML form of `harness tasks new` (see README): one task from one JSONL file."""

    model_config = ConfigDict(extra="forbid")

    task: str
    data: Path
    metric: Metric = "exact"
    pattern: str | None = None  # regex metric: one pattern for all rows (else each row's reference)
    rel_tol: float = Field(default=0.0, ge=0)  # numeric metric
    abs_tol: float = Field(default=1e-9, ge=0)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")  # json_schema: one schema for all rows
    timeout_s: float = Field(default=10.0, gt=0)  # code metric, per row
    max_tokens: int = Field(default=256, gt=0)
    stop: list[str] = []


def load_spec(path: Path) -> CustomTaskSpec:
    """A task spec from YAML; relative data paths are taken from the spec's own folder."""
    try:
        data = yaml.safe_load("\n".join(text_lines(path)))
        spec = CustomTaskSpec.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"{path}: {' '.join(str(exc).split())}") from exc
    except ValidationError as exc:
        raise HarnessError(one_line(str(path), exc)) from exc
    if not spec.data.is_absolute():
        spec.data = path.parent / spec.data
    return spec


def spec_from_options(name: str, data: Path, metric: str, max_tokens: int) -> CustomTaskSpec:
    """A task spec from `harness tasks new` options instead of a YAML file."""
    try:
        return CustomTaskSpec.model_validate({"task": name, "data": data, "metric": metric, "max_tokens": max_tokens})
    except ValidationError as exc:
        raise HarnessError(one_line("tasks new", exc)) from exc


def _row_problem(row: Any, spec: CustomTaskSpec) -> str | None:
    if not isinstance(row, dict):
        return "a row must be a JSON object"
    for field in ("input", "reference"):
        if field not in row:
            return f"missing '{field}'"
    extra = set(row) - {"input", "reference", "metadata"}
    if extra:
        return f"unknown field '{sorted(extra)[0]}' (rows hold input, reference, metadata)"
    if not isinstance(row["input"], str) or not row["input"].strip():
        return "'input' must be a non-empty string"
    reference = row["reference"]
    if spec.metric == "numeric" and (isinstance(reference, bool) or not isinstance(reference, int | float)):
        return "'reference' must be a number for the numeric metric"
    if spec.metric == "json_schema" and spec.schema_ is None and not isinstance(reference, dict):
        return "'reference' must be a JSON schema object (or give one schema for the task)"
    if spec.metric in ("exact", "contains", "code") and not isinstance(reference, str):
        return f"'reference' must be a string for the {spec.metric} metric"
    if spec.metric == "regex" and spec.pattern is None:
        try:
            re.compile(str(reference))
        except re.error as exc:
            return f"'reference' is not a valid regex: {exc}"
    if "metadata" in row and not isinstance(row["metadata"], dict):
        return "'metadata' must be an object"
    return None


def read_rows(spec: CustomTaskSpec) -> list[dict[str, Any]]:
    """Validate every line; raise one line listing the first few bad ones with their numbers."""
    lines = text_lines(spec.data)
    rows, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: bad JSON ({exc.msg})")
            continue
        problem = _row_problem(row, spec)
        if problem:
            problems.append(f"line {number}: {problem}")
        else:
            rows.append(row)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise HarnessError(f"{spec.data}: {len(problems)} bad row(s): {shown}")
    if not rows:
        raise HarnessError(f"{spec.data}: no rows")
    return rows


_LOADER = '''"""Loads this task's rows (written by `harness tasks new`)."""
import json
from pathlib import Path

import datasets


def load(**kwargs):
    path = Path(__file__).with_name("data.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
'''

_SCORER = '''"""Scores this task's answers (written by `harness tasks new`)."""
import json

from harness.custom.metrics import score

METRIC = {metric!r}
OPTIONS = json.loads({options!r})


def target(doc):
    return doc["reference_text"]


def process_results(doc, results):
    return {{"score": score(METRIC, results[0], json.loads(doc["reference_json"]), OPTIONS)}}
'''


def _task_yaml(spec: CustomTaskSpec) -> str:
    config = {
        "task": spec.task, "tag": "custom", "custom_dataset": "LOADER", "output_type": "generate_until",
        "test_split": "test", "doc_to_text": "{{input}}", "doc_to_target": "TARGET",
        "generation_kwargs": {"until": spec.stop, "max_gen_toks": spec.max_tokens, "do_sample": False,
                              "temperature": 0.0},
        "process_results": "PROCESS",
        "metric_list": [{"metric": "score", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0, "metric": spec.metric},
    }
    # lm-eval's !function tags point at the generated modules beside the YAML.
    functions = {"LOADER": "loader.load", "TARGET": "scorer.target", "PROCESS": "scorer.process_results"}
    return lm_eval_yaml(config, functions)


def create_task(spec: CustomTaskSpec, force: bool = False) -> Path:
    """Validate the rows, then write tasks/custom/<task>/ atomically; return the folder."""
    if not _NAME.match(spec.task):
        raise HarnessError(f"task name '{spec.task}' must be lowercase letters, digits and _ (starting with a letter)")
    rows = read_rows(spec)
    target = tasks_dir() / "custom" / spec.task
    if target.exists() and not force:
        raise HarnessError(f"{target} already exists; pass --force to replace it")
    options = {"pattern": spec.pattern, "rel_tol": spec.rel_tol, "abs_tol": spec.abs_tol, "schema": spec.schema_,
               "timeout_s": spec.timeout_s}
    rows_text = "".join(
        json.dumps({"id": i, "input": row["input"], "reference_json": json.dumps(row["reference"]),
                    "reference_text": row["reference"] if isinstance(row["reference"], str)
                    else json.dumps(row["reference"], ensure_ascii=False),
                    "metadata_json": json.dumps(row.get("metadata", {}))}, ensure_ascii=False) + "\n"
        for i, row in enumerate(rows))
    write_folder(target, {
        "data.jsonl": rows_text, "loader.py": _LOADER,
        "scorer.py": _SCORER.format(metric=spec.metric, options=json.dumps(options)),
        f"{spec.task}.yaml": _task_yaml(spec),
    })
    return target
