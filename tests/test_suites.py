import json
from pathlib import Path

import pytest

from harness.config.paths import tasks_dir
from harness.config.suites import load_suite, parse_suite
from harness.errors import HarnessError


def test_smoke_suite_has_at_least_60_docs() -> None:
    suite = load_suite("smoke")
    assert suite.task_names == ["smoke_arithmetic", "smoke_strings", "smoke_choice"]
    files = ["arithmetic.test.jsonl", "strings.test.jsonl", "choice.test.jsonl"]
    docs = sum(len((tasks_dir() / "smoke" / f).read_text().splitlines()) for f in files)
    assert docs >= 60


def test_smoke_data_is_what_the_generator_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("smoke_generate", tasks_dir() / "smoke" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for produced in tmp_path.glob("*.jsonl"):
        committed = tasks_dir() / "smoke" / produced.name
        assert produced.read_text() == committed.read_text(), produced.name
        assert all(json.loads(line)["answer"] for line in produced.read_text().splitlines())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tasks: []\n", "tasks"),
        ("tasks:\n  - task: a\n    weight: -1\n", "weight"),
        ("tasks:\n  - task: a\n    colour: red\n", "unknown key"),
        ("tasks:\n  - task: a\n  - task: a\n", "listed twice"),
        ("tasks: [\n", "bad YAML"),
        ("tasks:\n  - task: a\nfeatures: [telepathy]\n", "features"),
    ],
)
def test_malformed_suites(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=expected):
        parse_suite(path)


def test_unknown_suite() -> None:
    with pytest.raises(HarnessError, match=r"unknown suite .nope.*smoke"):
        load_suite("nope")
