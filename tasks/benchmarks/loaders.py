"""Dataset loaders for the benchmark tasks: each reads a verified data pack (`harness data pull`).

Rows are mapped to the field names lm-eval's own task formats use, so the YAMLs beside this file
follow the built-in prompts and filters. Choice order is shuffled deterministically where the
source always puts the right answer first (TruthfulQA MC1), or letter-choice scores mean nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import defaultdict

import datasets

from harness.data.packs import pack_file
from harness.traffic import bfcl as bfcl_items
from harness.traffic.replay import ReplayTask  # noqa: F401  (the task class the bfcl_*.yaml files name)


def _jsonl(name: str) -> list[dict]:
    path = pack_file(name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _limit(rows: list[dict], kwargs: dict) -> list[dict]:
    size = kwargs.get("size")
    return rows[: int(size)] if size else rows


def _split(rows: list[dict]) -> datasets.DatasetDict:
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def gsm8k(**kwargs) -> datasets.DatasetDict:
    rows = [{"question": r["prompt"], "answer": f"{r['upstream_answer']}"} for r in _jsonl("gsm8k")]
    return _split(_limit(rows, kwargs))


def mmlu(**kwargs) -> datasets.DatasetDict:
    """All 14,042 questions, or `per_subject` of each subject (a seeded, stratified subset)."""
    rows = [r for r in _jsonl("mmlu") if r["correct_answer"] in ("A", "B", "C", "D")]  # drops header rows
    docs = [{"question": r["question"], "subject": r["topic"],
             "choices": [r["answer_a"], r["answer_b"], r["answer_c"], r["answer_d"]],
             "answer": "ABCD".index(r["correct_answer"])} for r in rows]
    per_subject = kwargs.get("per_subject")
    if per_subject:
        by_subject: dict[str, list[dict]] = defaultdict(list)
        for doc in docs:
            by_subject[doc["subject"]].append(doc)
        docs = []
        for subject in sorted(by_subject):
            pool = sorted(by_subject[subject], key=lambda d: hashlib.sha256(d["question"].encode()).hexdigest())
            docs += pool[: int(per_subject)]
    return _split(_limit(docs, kwargs))


def hellaswag(**kwargs) -> datasets.DatasetDict:
    import re

    def clean(text: str) -> str:  # lm-eval's hellaswag preprocess
        text = text.strip().replace(" [title]", ". ")
        return re.sub("\\[.*?\\]", "", text).replace("  ", " ")

    rows = [{"query": clean(f"{r['activity_label']}: {r['ctx']}"), "choices": [clean(e) for e in r["endings"]],
             "gold": int(r["expected_index"])} for r in _jsonl("hellaswag")]
    return _split(_limit(rows, kwargs))


def truthfulqa_mc1(**kwargs) -> datasets.DatasetDict:
    rows = []
    for r in _jsonl("truthfulqa_mc1"):
        choices = list(r["choices"])
        right = choices[int(r["expected_index"])]
        random.Random(r["id"]).shuffle(choices)
        rows.append({"question": r["question"], "choices": choices, "gold": choices.index(right)})
    return _split(_limit(rows, kwargs))


def humaneval(**kwargs) -> datasets.DatasetDict:
    rows = [{k: r[k] for k in ("task_id", "prompt", "entry_point", "test")} for r in _jsonl("humaneval")]
    return _split(_limit(rows, kwargs))


def bfcl(**kwargs) -> datasets.DatasetDict:
    """One BFCL category (`category`, e.g. simple), as replay docs; `size` items of a seeded subset."""
    category = kwargs["category"]
    items = bfcl_items.subset(_jsonl(f"bfcl_{category}"), kwargs.get("size"))
    answers = {} if category == "irrelevance" else {a["id"]: a for a in _jsonl(f"bfcl_{category}_answers")}
    return _split([bfcl_items.to_doc(item, answers[item["id"]] if answers else None) for item in items])
