"""Loads the smoke suite's JSONL files from this folder.

lm-eval resolves a YAML's relative `data_files` against the working directory, so the tasks point
`custom_dataset` here instead and the files are found wherever the harness is started from.
"""

import json
from pathlib import Path

import datasets

HERE = Path(__file__).parent


def _rows(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load(**kwargs) -> datasets.DatasetDict:
    """Return {test, fewshot?} splits for the files named by `test` and `fewshot` in dataset_kwargs."""
    splits = {"test": datasets.Dataset.from_list(_rows(kwargs["test"]))}
    if kwargs.get("fewshot"):
        splits["fewshot"] = datasets.Dataset.from_list(_rows(kwargs["fewshot"]))
    return datasets.DatasetDict(splits)
