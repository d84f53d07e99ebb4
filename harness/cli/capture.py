"""`harness capture`: a pass-through proxy that writes the incumbent's traffic as it flows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import say
from harness.errors import HarnessError

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def capture_cmd(
    upstream: Annotated[str, typer.Option(help="The incumbent's base URL, /v1 included "
                                          "(e.g. https://api.openai.com/v1).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the captured JSONL files.")]
    = Path("runs/capture"),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8099,
    host: Annotated[str, typer.Option(help="Address to listen on; other than loopback needs --public.")]
    = "127.0.0.1",
    public: Annotated[bool, typer.Option(help="Allow an address other than loopback (see the warning it prints).")]
    = False,
    sample: Annotated[float, typer.Option(help="Share of chat exchanges written (the rest pass through only).",
                                          min=0.0001, max=1.0)] = 1.0,
    redact: Annotated[bool, typer.Option(help="Mask personal data in what is written (as traffic import does).")]
    = False,
    rotate_mb: Annotated[int, typer.Option(help="Start a new file past this size.", min=1)] = 64,
) -> None:
    """Put a pass-through proxy in front of the incumbent's API and write each chat exchange as a
    traffic log line (the format `harness traffic import` reads), off the request path: the client's
    answers, status codes and streams pass through unchanged, its key goes upstream and nowhere else,
    and a line that cannot be written is counted (GET /metrics), never a request failed.

    Example: harness capture --upstream https://api.openai.com/v1 --port 8099 -o runs/capture
    """
    from harness.capture.serve import CaptureSettings, serve

    if not upstream.startswith(("http://", "https://")):
        raise HarnessError(f"--upstream {upstream!r} is not an http(s) URL")
    if host not in _LOOPBACK and not public:
        raise HarnessError(f"--host {host} listens beyond this machine: add --public to mean it")
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out} is a file, not a folder")
    if host not in _LOOPBACK:
        say(f"warning: anyone who can reach {host}:{port} can send requests through this proxy to {upstream} "
            f"with their own key, and every exchange is written to {out}")
    settings = CaptureSettings(upstream=upstream.rstrip("/"), out=out, host=host, port=port, sample=sample,
                               redact=redact, rotate_mb=rotate_mb)
    counts = serve(settings, say)
    dropped = {k: counts[k] for k in ("dropped_queue_full", "dropped_writer_down", "write_errors", "unreadable")}
    say(f"capture stopped: {counts['written']} lines written to {out}, {sum(dropped.values())} dropped "
        f"({', '.join(f'{k} {v}' for k, v in dropped.items())}), writer restarts {counts['writer_restarts']}")
