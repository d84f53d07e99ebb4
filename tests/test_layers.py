"""The layer contracts (pyproject's [tool.importlinter]) hold on the tree and catch a planted upward import."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# Statements that change data or schema; only harness/store may send them.
WRITE_SQL = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(OR\s+REPLACE\s+)?"
                       r"(TABLE|VIEW|INDEX)|DROP\s+(TABLE|VIEW)|ALTER\s+TABLE|COPY\s+\w+\s+(TO|FROM))\b", re.I)


def _lint_imports(config: Path, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(LINT_IMPORTS), str(config), "--no-cache"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_contracts_hold_on_the_tree() -> None:
    result = _lint_imports(ROOT / "pyproject.toml", ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _harness_only_config(folder: Path) -> Path:
    """The repository's harness contracts, on a copy of the package alone."""
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = [c for c in linter["contracts"] if str(c.get("source_modules", ["harness"])[0]).startswith("harness")
                 and not any(m in ("bench", "tests") for m in c.get("forbidden_modules", []))]
    lines = ["[importlinter]", "root_package = harness", "include_external_packages = True", ""]
    for number, contract in enumerate(contracts):
        lines.append(f"[importlinter:contract:{number}]")
        for key, value in contract.items():
            if isinstance(value, list):
                lines.append(f"{key} =" + "".join(f"\n    {item}" for item in value))
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    config = folder / ".importlinter"
    config.write_text("\n".join(lines))
    return config


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "harness", tmp_path / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    config = _harness_only_config(tmp_path)
    clean = _lint_imports(config, tmp_path, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    reads = tmp_path / "harness" / "store" / "reads.py"
    reads.write_text(reads.read_text() + "\nimport harness.cli.app  # planted: the store reaching up to the CLI\n")
    planted = _lint_imports(config, tmp_path, tmp_path)
    assert planted.returncode != 0
    assert "harness.store.reads -> harness.cli.app" in planted.stdout
    assert "BROKEN" in planted.stdout


def test_only_the_store_sends_statements_that_write() -> None:
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        if path.is_relative_to(ROOT / "harness" / "store"):
            continue
        offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                      if WRITE_SQL.search(line)]
    assert offenders == []


def test_tests_reach_loopback_only() -> None:
    import socket

    from pytest_socket import SocketConnectBlockedError

    with socket.socket() as sock, pytest.raises(SocketConnectBlockedError):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: refused before any packet leaves


def test_cache_and_data_dirs_are_isolated(isolated_runs: Path) -> None:
    from harness.config.paths import cache_dir
    from harness.data.packs import data_dir

    home_cache = Path.home() / ".cache" / "lockin-harness"
    assert cache_dir() != home_cache and data_dir().is_relative_to(isolated_runs.parent)
