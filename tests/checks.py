"""Checks shared by the CLI, bad-input, resume and concurrency tests."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line a failed command printed (and nothing else on stderr)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def query(db: Path, sql: str, params: list[Any] | None = None, wait_s: float = 30.0) -> list[tuple]:
    """Read the database the way another terminal would: read-only, retrying while a writer holds it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def assert_sound(db: Path) -> None:
    """The database opens read-write (so a WAL left by a crash replays), passes DuckDB's own checks,
    and no run is left 'running' by a process that has ended."""
    con = duckdb.connect(str(db))
    try:
        con.execute("checkpoint")
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
        for table in tables:
            con.execute(f'select * from "{table}"').fetchall()  # reads every block
        assert con.execute("select count(*) from runs where status = 'running'").fetchone() == (0,)
    finally:
        con.close()


def execute(db: Path, *statements: str, params: list[Any] | None = None) -> None:
    """Change the database directly, as a test's setup (e.g. to make a run look crashed)."""
    con = duckdb.connect(str(db))
    try:
        for sql in statements:
            con.execute(sql, params or [])
    finally:
        con.close()


def obey_file_modes() -> None:
    """In the child: give up root's power to ignore file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)
    by dropping them from the bounding set, so that the exec'd harness meets permissions like anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(97)
