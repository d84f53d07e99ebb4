"""Run the capture proxy until SIGINT or SIGTERM, then write what is queued and return the counts."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from harness.capture.proxy import Proxy, application
from harness.capture.writer import WriterHandle


class CaptureSettings(BaseModel):
    """What `harness capture` was asked to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream: str  # the incumbent's base URL, /v1 included
    out: Path  # the folder the JSONL files go to
    host: str = "127.0.0.1"
    port: int = Field(default=8099, ge=0, le=65535)  # 0: any free port (the announcement names it)
    sample: float = Field(default=1.0, gt=0, le=1)  # the share of chat exchanges written
    redact: bool = False
    rotate_mb: int = Field(default=64, ge=1)


async def _serve(settings: CaptureSettings, writer: WriterHandle, announce: Callable[[str], None]) -> None:
    runner = web.AppRunner(application(Proxy(settings.upstream, writer, settings.sample)), access_log=None,
                           handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()
    port = settings.port or runner.addresses[0][1]
    base = f"http://{settings.host}:{port}"
    announce(f"capture listening on {base}/v1 -> {settings.upstream}; lines go to {settings.out} "
             f"(counts: {base}/metrics); Ctrl-C stops")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(settings: CaptureSettings, announce: Callable[[str], None]) -> dict[str, int]:
    """Serve until stopped; the writer's final counts."""
    writer = WriterHandle(settings.out, settings.rotate_mb * 1024 * 1024, settings.redact)
    try:
        asyncio.run(_serve(settings, writer, announce))
    finally:
        counts = writer.close()
    return counts
