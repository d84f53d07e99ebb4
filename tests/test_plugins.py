"""A third-party provider kind, installed as a real package with a real entry point, runs a suite;
its own settings model validates its profile section."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.checks import one_error_line
from tests.conftest import ROOT, run_harness

PLUGIN = ROOT / "tests" / "plugins" / "echo_provider"
PROFILE = """
kind = "echo"
model = "echo-model"

[echo]
{settings}

[openness]
class = "open-source"
licence = "Apache-2.0"
weights = true
code = true
data = true
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built and installed with pip into a folder of its own (a real dist-info with its
    entry_points.txt); children see it on PYTHONPATH, so the venv stays exactly as locked."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("build") / "echo_provider"
    shutil.copytree(PLUGIN, source)  # setuptools builds in the source tree: keep the checkout clean
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(target.glob("lockin_echo_provider-*.dist-info/entry_points.txt"))
    return target


def _env(plugin_path: Path, profiles: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(plugin_path), "HARNESS_PROVIDERS_DIR": str(profiles)}


def test_plugin_kind_runs_the_smoke_suite(plugin_path: Path, profiles: Path, isolated_runs: Path) -> None:
    (profiles / "echo.toml").write_text(PROFILE.format(settings='reply = "A"\nupper = true'))
    result = run_harness("eval", "-p", "echo", "-s", "smoke", env=_env(plugin_path, profiles))
    assert result.returncode == 0, result.stderr[-2000:]
    con = duckdb.connect(str(isolated_runs / "harness.duckdb"), read_only=True)
    try:
        status, n = con.execute("select status, n_requests from runs").fetchone()  # type: ignore[misc]
        stored = json.loads(con.execute("select profile_json from providers").fetchone()[0])  # type: ignore[index]
        answers = {r for (r,) in con.execute("select distinct response from generations").fetchall()}
    finally:
        con.close()
    assert status == "complete" and n > 0
    assert stored["kind"] == "echo" and stored["echo"] == {"reply": "A", "upper": True, "latency_ms": 1.0}
    assert answers == {"A"}
    shown = run_harness("providers", "show", "echo", env=_env(plugin_path, profiles))
    assert json.loads(shown.stdout)["echo"]["reply"] == "A"


@pytest.mark.parametrize(("settings", "pattern"), [
    ('replies = "A"', r"echo\.toml: \[echo\]: replies: unknown key"),
    ('reply = "sk-' + "a" * 32 + '"', r"looks like a credential"),
    ("latency_ms = -1", r"\[echo\]: latency_ms: Input should be greater than or equal to 0"),
])
def test_plugin_section_is_validated_by_its_own_model(plugin_path: Path, profiles: Path, settings: str,
                                                      pattern: str) -> None:
    (profiles / "echo.toml").write_text(PROFILE.format(settings=settings))
    result = run_harness("eval", "-p", "echo", "-s", "smoke", env=_env(plugin_path, profiles))
    assert result.returncode == 2, result.stderr[-2000:]
    line = one_error_line(result)
    assert re.search(pattern, line), line
    assert "sk-aaaa" not in result.stderr


def test_section_of_an_unknown_kind_is_refused(profiles: Path) -> None:
    (profiles / "echo.toml").write_text(PROFILE.format(settings='reply = "A"'))
    result = run_harness("providers", "show", "echo", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 2
    assert "unknown provider kind 'echo'" in one_error_line(result)
