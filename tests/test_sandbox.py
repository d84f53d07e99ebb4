"""The code-execution sandbox contains what generated code may do: loops, fork bombs, stray writes."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path

import pytest

from harness.custom.sandbox import SandboxLimits, run_python


def _processes() -> int:
    """Live processes that could be the sandbox's: as root it runs code as `nobody`, so only those
    count (other work on the machine comes and goes); otherwise every live process. Zombies awaiting
    their reaper are dead and hold nothing but a PID."""
    uid = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else None
    live = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                owner = entry.stat().st_uid
            except (OSError, IndexError):
                continue
            live += state != "Z" and (uid is None or owner == uid)
    return live


def test_correct_code_passes_and_wrong_code_fails() -> None:
    assert run_python("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n").passed
    failed = run_python("assert 1 + 1 == 3\n")
    assert failed.status == "failed" and "AssertionError" in failed.stderr_tail


def test_infinite_loop_is_stopped_by_the_timeout() -> None:
    started = time.monotonic()
    result = run_python("while True:\n    pass\n", SandboxLimits(timeout_s=2))
    assert result.status == "timeout"
    assert time.monotonic() - started < 10


def test_fork_bomb_is_contained_by_the_guard() -> None:
    result = run_python("import os\nwhile True:\n    os.fork()\n", SandboxLimits(timeout_s=5))
    assert result.status == "failed"


def test_fork_bomb_is_contained_by_os_limits_without_the_guard() -> None:
    before = _processes()
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run_python(bomb, SandboxLimits(timeout_s=3, max_processes=16, guard=False))
    assert result.status in ("timeout", "failed")
    time.sleep(0.5)
    assert _processes() <= before + 2  # the whole group was killed; nothing is left running


def test_writes_outside_the_temp_dir_are_contained(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    program = f"open({str(target)!r}, 'w').write('out')\n"
    result = run_python(program, SandboxLimits(guard=False))
    assert not target.exists()
    if os.geteuid() == 0:  # /tmp is private to the sandbox: the folder is not there, or not writable
        assert result.status == "failed"
        assert "Permission" in result.stderr_tail or "No such file" in result.stderr_tail


@pytest.mark.skipif(os.geteuid() != 0, reason="private mounts need root; as a user the code runs as that user")
def test_shared_temp_folders_are_private_to_the_sandbox() -> None:
    """World-writable folders are writable by `nobody` too: the sandbox gets its own, thrown away."""
    name = f"harness-escape-{os.getpid()}.txt"
    folders = [f for f in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(f)]
    program = "".join(f"open({f + '/' + name!r}, 'w').write('out')\n" for f in folders)
    program += "import os\n" + "".join(f"assert os.path.exists({f + '/' + name!r})\n" for f in folders)
    result = run_python(program, SandboxLimits(guard=False))
    assert result.passed, result.stderr_tail  # the writes worked, inside the sandbox
    leaked = [f for f in folders if os.path.exists(os.path.join(f, name))]
    assert leaked == []


def test_writes_inside_the_temp_dir_work() -> None:
    program = "import os\nopen('scratch.txt', 'w').write('x')\nassert os.path.exists('scratch.txt')\n"
    assert run_python(program).passed


def test_no_network() -> None:
    program = "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', 9))\n"
    result = run_python(program)
    assert result.status == "failed"
    assert "unreachable" in result.stderr_tail or "refused" in result.stderr_tail


def test_memory_limit() -> None:
    result = run_python("x = bytearray(4 * 1024 ** 3)\n", SandboxLimits(memory_mb=256))
    assert result.status == "failed" and "MemoryError" in result.stderr_tail
