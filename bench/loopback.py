"""Loopback helpers shared by benchmarks and tests (tests import this; benchmarks never import tests)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(module: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Run `python -m MODULE ARGS... PORT` in a child process (its own GIL, so it never slows the client
    measured); return (process, base_url) once GET /v1/models answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, *args, str(port)],
                               cwd=Path(__file__).resolve().parent.parent)
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1):
                return process, base_url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{module} did not start")


def server_profile(base_url: str, model: str, extra: str = "") -> str:
    """A profile (TOML) for a loopback OpenAI-compatible server: the openai kind at `base_url`, graded
    proprietary (a stand-in for a vendor's API); `extra` adds sections such as [openai] or [pricing]."""
    return (f'kind = "openai"\nmodel = "{model}"\nbase_url = "{base_url}"\n{extra.strip()}\n\n'
            '[openness]\nclass = "proprietary"\nlicence = "proprietary"\nweights = false\ncode = false\n'
            "data = false\n")
