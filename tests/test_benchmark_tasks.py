"""The benchmark tasks over the data packs: loaders, scoring, and a dry run of each task."""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from harness.config.paths import tasks_dir
from harness.config.suites import load_suite
from harness.data.packs import load_packs, pull
from harness.run.runner import EvalOptions, run_eval


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    mp = pytest.MonkeyPatch()
    mp.setenv("HARNESS_DATA_DIR", str(folder))
    for name in load_packs():
        pull(name)
    yield folder
    mp.undo()


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, tasks_dir() / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mmlu_loader_drops_headers_and_stratifies(packs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(packs))
    loaders = _module("loaders")
    full = loaders.mmlu()["test"]
    assert len(full) == 14042
    subset = loaders.mmlu(per_subject=2)["test"]
    assert len(subset) == 114 and set(Counter(subset["subject"]).values()) == {2}
    assert subset["question"] == loaders.mmlu(per_subject=2)["test"]["question"]  # deterministic


def test_truthfulqa_choices_are_shuffled(packs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(packs))
    gold = Counter(_module("loaders").truthfulqa_mc1()["test"]["gold"])
    assert len(gold) >= 3 and max(gold.values()) < 60  # the source always lists the true answer first


def test_humaneval_canonical_solutions_pass_and_stubs_fail(packs: Path) -> None:
    scorer = _module("humaneval")
    path = packs / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        problems = [json.loads(line) for line in fh]
    assert len(problems) == 164
    passed = [scorer.process_results(p, [p["canonical_solution"]])["pass@1"] for p in problems[:40]]
    assert sum(passed) == 40
    # A chat answer with the whole function in a fence scores too; a wrong body does not.
    first = problems[0]
    fenced = f"```python\n{first['prompt']}{first['canonical_solution']}```\nThis works because..."
    assert scorer.process_results(first, [fenced])["pass@1"] == 1.0
    assert scorer.process_results(first, ["    return None\n"])["pass@1"] == 0.0


def test_every_core_task_runs(packs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(packs))
    suite = load_suite("core")
    outcome = run_eval(EvalOptions(provider="fake", suite="core", limit=3))
    assert outcome.status == "complete"
    assert {s["task"] for s in outcome.scores} == set(suite.task_names)
    assert load_suite("full").task_names[0] == "pack_mmlu_gen"


def test_missing_pack_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import HarnessError

    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(HarnessError, match=r"run `harness data pull gsm8k`"):
        run_eval(EvalOptions(provider="fake", tasks=["pack_gsm8k_cot"], limit=2))


def test_include_path_takes_plain_lm_eval_task_folders(tmp_path: Path, isolated_runs: Path, profiles: Path) -> None:
    """A folder of lm-eval YAMLs, written the way `lm_eval --include_path` takes them, runs unchanged."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"q": f"Say {w}", "a": w}) + "\n" for w in ("A", "B", "C", "D")))
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "my_qa.yaml").write_text(
        "task: my_qa\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\noutput_type: generate_until\ntest_split: test\n"
        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\ngeneration_kwargs:\n  until: ['\\n']\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n")
    (profiles / "says-b.toml").write_text((profiles / "fake.toml").read_text().replace(
        'replies = ["A", "B", "C", "8", "12", "TABLE", "E", ""]', 'replies = ["B"]'))
    outcome = run_eval(EvalOptions(provider="says-b", tasks=["my_qa"], include_path=folder))
    assert outcome.status == "complete" and outcome.n_requests == 4
    assert outcome.scores[0]["value"] == 0.25  # right on exactly one of A/B/C/D
