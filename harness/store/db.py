"""DuckDB connections held for short transactions, so other processes can read during a run.

DuckDB lets one process hold a file at a time (even read-only). The writer opens, writes and closes;
everyone retries for a while on a lock conflict before giving up with one clear line.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from harness.errors import HarnessError
from harness.store.migrations import migrate

# Status lines for whoever runs the command (the CLI prints them on stderr): a wait is said once.
_notice = logging.getLogger("harness.notice")
LOCK_NOTICE_AFTER_S = 3.0  # shorter waits are everyday contention between a run and a reader
_LOCK = re.compile(r"Could not set lock|Conflicting lock", re.IGNORECASE)
# Failures of the file, not of the SQL: they become one line (a full disk is not a bug).
_IO = re.compile(r"No space left|File too large|Permission denied|Read-only file system|Could not write",
                 re.IGNORECASE)


class Store:
    """A DuckDB file; `connect()` yields a migrated connection and closes it afterwards."""

    def __init__(self, path: Path, wait_s: float = 30.0) -> None:
        self.path = Path(path)
        self.wait_s = wait_s
        self._migrated = False

    def _prepare(self) -> None:
        if self.path.is_dir():
            raise HarnessError(f"database path {self.path} is a directory, not a DuckDB file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(f"cannot create folder {self.path.parent}: {exc.strerror or exc}") from exc

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.wait_s
        delay = 0.05
        existed = self.path.exists()
        started, told = time.monotonic(), False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                message = str(exc)
                if _LOCK.search(message) and time.monotonic() < deadline:
                    if not told and time.monotonic() - started >= LOCK_NOTICE_AFTER_S:
                        told = True
                        _notice.info(f"waiting for the database lock on {self.path}{_holder(message)} "
                                     f"(up to {self.wait_s:.0f} s)")
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                if not existed:  # e.g. the disk filled while the header was written: never leave a torso
                    for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
                        leftover.unlink(missing_ok=True)
                raise HarnessError(_describe(self.path, message)) from exc

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open (waiting on another process's lock up to `wait_s`), migrate once, close on exit."""
        if read_only and not self.path.exists():
            raise HarnessError(f"no database at {self.path}; run `harness eval` first")
        if not read_only:
            self._prepare()
        con = self._open(read_only)
        try:
            if not self._migrated:
                migrate(con, self.path, read_only=read_only)
                self._migrated = True
            yield con
        except (duckdb.InterruptException, RuntimeError) as exc:
            # DuckDB turns Ctrl-C during a query into its own error: it is still the user's Ctrl-C.
            if "interrupt" in str(exc).lower():
                raise KeyboardInterrupt from exc
            raise
        except duckdb.Error as exc:
            if _IO.search(str(exc)):
                raise HarnessError(_describe(self.path, str(exc))) from exc
            raise
        finally:
            con.close()  # an open transaction is rolled back: a failed write leaves nothing behind


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open (a failed commit has already ended it; saying so
    again would hide the original error)."""
    with suppress(duckdb.Error):
        con.execute("rollback")


def _holder(message: str) -> str:
    """' held by PID n' from DuckDB's lock error, or '' when it names none (or names us)."""
    pid = re.search(r"PID (\d+)", message)
    return f" held by PID {pid.group(1)}" if pid and int(pid.group(1)) != os.getpid() else ""


def _describe(path: Path, message: str) -> str:
    if _LOCK.search(message):
        pid = re.search(r"PID (\d+)", message)
        who = f" (PID {pid.group(1)})" if pid else ""
        return f"database {path} is locked by another process{who}; wait for it to finish and retry"
    if "not a valid DuckDB database" in message:
        return f"{path} is not a DuckDB database; pass another --db"
    if "Permission denied" in message or "Read-only file system" in message:
        return f"cannot write {path}: permission denied"
    if "No space left" in message or "File too large" in message:
        return f"cannot write {path}: the disk is full (or the file-size limit was reached)"
    return f"cannot open {path}: {' '.join(message.split())}"
