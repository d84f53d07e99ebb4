"""llama.cpp's OpenAI-compatible servers on a loopback port, for `make serve-llamacpp`, the tests and the
benchmarks: one definition of each command line.

`cpp` is llama.cpp's own C++ server (`llama-server`, built by `make llama-server` into the venv): continuous
batching over SLOTS slots, and `tools` / `json_schema` requests through the GGUF's Jinja template.
`python` is llama-cpp-python's server, kept only as the baseline of bench/llamacpp_load.py and of the
recorded figures of bench/hf_llamacpp.py: one request at a time, no tools, no json_schema.

Run:  python -m bench.llamacpp_server GGUF [--port 8080] [--server cpp|python]   (execs the server)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Literal

from bench.loopback import free_port

__all__ = ["CTX_PER_SLOT", "SLOTS", "LlamaCppServer", "llama_server_binary", "server_command"]

Kind = Literal["cpp", "python"]
# Four slots: on 2 cores decode of a 135M model is memory-bound, so a batch of 4 streams costs little
# more per step than one; past that, prompt processing of new arrivals stalls the streams in flight.
SLOTS = 4
# Per slot, as llama-cpp-python's server had in all: an explicit --parallel splits -c across slots, so
# -c is SLOTS x this, or a long prompt would be cut short (or refused) at a quarter of what it had.
CTX_PER_SLOT = 2048
# The machine's 2 cores (llama-cpp-python's server defaults to one). LLAMACPP_THREADS overrides it on a
# shared machine: ggml's threads wait on each other at every step, so when another process holds one
# core, 2 threads decoded 3-7 tokens/s here against 37 for 1 thread.
THREADS = int(os.environ.get("LLAMACPP_THREADS", "2"))
# SmolLM2's own template has no tools, and llama-server then drops them from the prompt without a word:
# this one is that template plus tools in the Hermes convention of the hf provider (see its header).
SMOLLM2_TOOLS_TEMPLATE = Path(__file__).resolve().parent.parent / "providers" / "templates" / "smollm2-tools.jinja"


def llama_server_binary() -> str:
    """The llama-server that `make llama-server` copied next to this venv's python, else one on PATH."""
    beside = Path(sys.executable).parent / "llama-server"
    found = str(beside) if beside.is_file() else shutil.which("llama-server")
    if found is None:
        raise RuntimeError("llama-server not found: run `make llama-server`")
    return found


def server_command(gguf: Path, port: int, kind: Kind = "cpp") -> list[str]:
    """The command line that serves `gguf` on 127.0.0.1:`port` (see the module's doc for the two kinds)."""
    if kind == "python":
        # --interrupt_requests False: otherwise a new request cuts the streaming answer in flight short.
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                "--port", str(port), "--n_threads", str(THREADS), "--n_ctx", str(CTX_PER_SLOT),
                "--interrupt_requests", "False"]
    # --jinja: the chat template renders `tools`, and tool calls are parsed back out of the text (a
    # grammar holds tool_choice "required" to a call). --no-webui: an API server, nothing to browse.
    command = [llama_server_binary(), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
               "--jinja", "--parallel", str(SLOTS), "--ctx-size", str(SLOTS * CTX_PER_SLOT),
               "--threads", str(THREADS), "--no-webui"]
    if gguf.name.startswith("SmolLM2-"):
        command += ["--chat-template-file", str(SMOLLM2_TOOLS_TEMPLATE)]
    return command


class LlamaCppServer:
    """A llama.cpp server on a free loopback port, stopped through its process group."""

    def __init__(self, gguf: Path, log: Path, kind: Kind = "cpp") -> None:
        self.port = free_port()
        self.kind = kind
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self.command = server_command(gguf, self.port, kind)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        # llama-server answers /health with 503 while the model loads, 200 once it serves; the Python
        # server has no /health and answers /v1/models only once loaded.
        ready = f"http://127.0.0.1:{self.port}/health" if self.kind == "cpp" else f"{self.base_url}/models"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(ready, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError("llama.cpp server did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF on llama.cpp's OpenAI-compatible API.")
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--server", choices=("cpp", "python"), default="cpp")
    args = parser.parse_args()
    command = server_command(args.gguf, args.port, args.server)
    print(" ".join(command), flush=True)
    # exec, not a child: Ctrl-C and `kill` reach the server itself, and no Python process sits between.
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
