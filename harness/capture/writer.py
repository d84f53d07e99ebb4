"""The capture's writer: a process of its own that turns exchanges into traffic log lines.

The proxy hands each captured exchange (the raw request and response bytes, when, how long) to
`WriterHandle.offer`, which only puts it on a bounded queue: the request path never waits on a disk,
a parse or a lock. A feeder thread passes the queue to the writer process through a pipe; the writer
parses the bodies, rebuilds a streamed answer, removes credentials (and masks personal data with
`--redact`), and appends one line per exchange to rotating JSONL files in the log format `harness
traffic import` reads. Whatever cannot be written is counted, never retried at the client's cost: a
full queue, a writer that died (it is restarted, at most once a second; lines in its pipe are lost and
counted), a folder it cannot write. `counts()` gives every counter for the proxy's /metrics.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from harness.capture.sse import assemble
from harness.config.secrets import scrub_secrets
from harness.traffic.redact import redact_messages

# Shared counters: the first three are the writer process's, the rest the feeder's.
COUNTERS = ("handled", "written", "write_errors", "unreadable", "sent", "dropped_queue_full",
            "dropped_writer_down", "writer_restarts")
_INDEX = {name: i for i, name in enumerate(COUNTERS)}
_CONTEXT = multiprocessing.get_context("spawn")
BATCH = 256  # exchanges per send to the writer at most  # no fork of a process with an event loop and threads


@dataclass(frozen=True)
class Exchange:
    """One captured request and its answer, as the bytes that crossed the proxy."""

    at: float  # Unix seconds when the request arrived
    request: bytes
    response: bytes
    stream: bool  # the response is Server-Sent Events
    latency_ms: float


def log_line(exchange: Exchange, redact: bool) -> dict[str, Any]:
    """The traffic log line of an exchange: credentials removed, personal data masked on request.
    Raises ValueError for a body that is not a chat exchange."""
    request = json.loads(exchange.request)
    response = assemble(exchange.response) if exchange.stream else json.loads(exchange.response)
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise ValueError("not a chat exchange")
    if redact:
        request["messages"], _ = redact_messages(list(request.get("messages") or []))
        response["choices"], _ = redact_messages(list(response.get("choices") or []))
    line, _ = scrub_secrets({"timestamp": datetime.fromtimestamp(exchange.at, UTC).isoformat(timespec="milliseconds"),
                             "request": request, "response": response, "latency_ms": round(exchange.latency_ms, 1)})
    return dict(line)


class _Files:
    """Append-only JSONL files in `folder`, a new one past `rotate_bytes` (never a line split across two)."""

    def __init__(self, folder: Path, rotate_bytes: int) -> None:
        self.folder, self.rotate_bytes = folder, rotate_bytes
        self.handle: BinaryIO | None = None
        self.size = 0
        self.number = 0

    def write(self, data: bytes) -> None:
        if self.handle is None or self.size + len(data) > self.rotate_bytes:
            self.close()
            self.folder.mkdir(parents=True, exist_ok=True)
            self.number += 1
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            self.handle = (self.folder / f"capture-{stamp}-{os.getpid()}-{self.number:04d}.jsonl").open("ab")
            self.size = 0
        self.handle.write(data)
        self.handle.flush()  # a line is in the file (the OS's cache) once it is counted written
        self.size += len(data)

    def close(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None


def writer_main(conn: Connection, folder: str, rotate_bytes: int, redact: bool, counters: Any) -> None:
    """The writer process: until the pipe closes, each exchange becomes a line (or a counted loss)."""
    # Serving comes first: the writer runs only on CPU time nothing else wants (Linux's idle class;
    # elsewhere the lowest priority). Lines wait in the pipe and the queue meanwhile, and a queue that
    # fills on a saturated machine drops lines, counted, never requests.
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.nice(19)
    files = _Files(Path(folder), rotate_bytes)
    while True:
        try:
            batch: list[Exchange] = conn.recv()
        except (EOFError, OSError):
            break
        for exchange in batch:
            counters[_INDEX["handled"]] += 1
            try:
                data = (json.dumps(log_line(exchange, redact), ensure_ascii=False) + "\n").encode("utf-8")
            except (ValueError, TypeError):
                counters[_INDEX["unreadable"]] += 1
                continue
            try:
                files.write(data)
                counters[_INDEX["written"]] += 1
            except OSError:  # a read-only or full disk, a folder gone: the line is lost, the proxy goes on
                counters[_INDEX["write_errors"]] += 1
                files.close()
    files.close()


class WriterHandle:
    """The proxy's side: a bounded queue, a feeder thread, and the writer process it restarts."""

    def __init__(self, folder: Path, rotate_bytes: int, redact: bool, queue_batches: int = 200) -> None:
        self.folder, self.rotate_bytes, self.redact = folder, rotate_bytes, redact
        self.counters = _CONTEXT.Array("q", len(COUNTERS), lock=False)
        self.queue: queue.Queue[list[Exchange] | None] = queue.Queue(maxsize=queue_batches)
        self.last_start = 0.0
        self._start()
        self.feeder = threading.Thread(target=self._feed, name="capture-feeder", daemon=True)
        self.feeder.start()

    def _start(self) -> None:
        receive, self.conn = _CONTEXT.Pipe(duplex=False)
        self.process = _CONTEXT.Process(target=writer_main, name="capture-writer", daemon=True, args=(
            receive, str(self.folder), self.rotate_bytes, self.redact, self.counters))
        self.process.start()
        receive.close()
        self.last_start = time.monotonic()

    def _bump(self, name: str, by: int = 1) -> None:
        self.counters[_INDEX[name]] += by

    def offer(self, batch: list[Exchange]) -> None:
        """Queue exchanges for writing; never blocks (a full queue drops them, counted). The proxy hands
        them over in batches (a few a second), so this thread wakes rarely and seldom asks the event
        loop's thread for the GIL."""
        try:
            self.queue.put_nowait(batch)
        except queue.Full:
            self._bump("dropped_queue_full", len(batch))

    def _alive(self) -> bool:
        if self.process.is_alive():
            return True
        if time.monotonic() - self.last_start < 1.0:
            return False
        # Died: what it was sent and never took is lost with it. Start another.
        self._bump("dropped_writer_down", self.counters[_INDEX["sent"]] - self.counters[_INDEX["handled"]])
        self.counters[_INDEX["sent"]] = self.counters[_INDEX["handled"]]
        self.conn.close()
        self._start()
        self._bump("writer_restarts")
        return True

    def _feed(self) -> None:
        while (batch := self.queue.get()) is not None:
            if not self._alive():
                self._bump("dropped_writer_down", len(batch))
                continue
            try:
                self.conn.send(batch)
                self._bump("sent", len(batch))
            except (OSError, ValueError):  # the writer died while we sent
                self._bump("dropped_writer_down", len(batch))

    def counts(self) -> dict[str, int]:
        found = {name: int(self.counters[i]) for i, name in enumerate(COUNTERS)}
        found["writer_alive"] = int(self.process.is_alive())
        found["writer_pid"] = self.process.pid or 0
        found["queued"] = self.queue.qsize()
        return found

    def close(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Write what is queued (up to `timeout_s`), stop the writer, and return the final counts."""
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=timeout_s)
        self.feeder.join(timeout_s)
        self.conn.close()
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.terminate()
        return self.counts()
