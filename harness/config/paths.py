"""Where the harness finds profiles and tasks and writes results; each place can be moved by env var."""

import os
from pathlib import Path

# The repository root when running from a checkout (editable install); the current folder otherwise.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _project_root() -> Path:
    if (_PACKAGE_ROOT / "providers").is_dir() and (_PACKAGE_ROOT / "tasks").is_dir():
        return _PACKAGE_ROOT
    return Path.cwd()


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def providers_dir() -> Path:
    """Folder of provider profiles (`HARNESS_PROVIDERS_DIR`, default `<project>/providers`)."""
    return _from_env("HARNESS_PROVIDERS_DIR", _project_root() / "providers")


def tasks_dir() -> Path:
    """Folder of suites and lm-eval task YAMLs (`HARNESS_TASKS_DIR`, default `<project>/tasks`)."""
    return _from_env("HARNESS_TASKS_DIR", _project_root() / "tasks")


def runs_dir() -> Path:
    """Folder for results (`HARNESS_RUNS_DIR`, default `<project>/runs`)."""
    return _from_env("HARNESS_RUNS_DIR", _project_root() / "runs")


def default_db() -> Path:
    """The DuckDB file (`HARNESS_DB`, default `<runs>/harness.duckdb`)."""
    return _from_env("HARNESS_DB", runs_dir() / "harness.duckdb")


def cache_dir() -> Path:
    """Converted model weights and other rebuildable files (`HARNESS_CACHE_DIR`)."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return _from_env("HARNESS_CACHE_DIR", xdg / "lockin-harness")
