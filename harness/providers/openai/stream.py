"""One streamed request, timed as a user feels it: time to first token, the gaps between tokens, the
whole exchange, and the tokens it produced. Through the SDK's streaming API (`stream=True`, usage
asked for with `stream_options`); servers that send no usage get their content chunks counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI

from harness.providers.base import GenRequest


@dataclass
class StreamTiming:
    ok: bool
    error: str | None = None
    ttft_ms: float | None = None  # request sent -> first token
    e2e_ms: float | None = None  # request sent -> stream closed
    gaps_ms: list[float] = field(default_factory=list)  # between consecutive token chunks
    output_tokens: int = 0
    input_tokens: int | None = None
    model: str | None = None
    fingerprint: str | None = None
    started: float = 0.0  # perf_counter at send, for throughput windows

    @property
    def itl_ms(self) -> float | None:
        """Mean inter-token latency of this request: decode time over the tokens after the first."""
        if self.ttft_ms is None or self.e2e_ms is None or self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)


def _body(request: GenRequest, model: str, max_tokens_param: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model, "messages": request.message_dicts if request.messages else [
            {"role": "user", "content": request.prompt or ""}],
        max_tokens_param: request.max_tokens, "temperature": request.temperature,
        "stream": True, "stream_options": {"include_usage": True},
    }
    if request.stop:
        body["stop"] = list(request.stop)[:4]
    body.update(request.api_fields())  # the traffic as it was, features and all
    return body


# A connection error this soon after sending is the pool's dead connection, not the server's answer.
_STALE_S = 0.5
# At concurrency C the pool can hold several dead connections: one retry still failed 12 in 2,600.
_STALE_TRIES = 4


async def _open(client: AsyncOpenAI, body: dict[str, Any]) -> Any:
    """Open the stream, again if a try failed to connect at once: llama.cpp's llama-server closes a
    keep-alive connection after each streamed answer, and the pool's next write on it fails at once
    ("Can not write request body"), before the request reached the server; every other request failed."""
    for _ in range(_STALE_TRIES - 1):
        started = time.perf_counter()
        try:
            return await client.chat.completions.create(**body)
        except (openai.APIConnectionError, openai.APITimeoutError):
            # Only a failure at once is a dead pooled connection; a server that timed out stays one failure.
            if time.perf_counter() - started > _STALE_S:
                raise
    return await client.chat.completions.create(**body)


async def stream_once(client: AsyncOpenAI, request: GenRequest, model: str,
                      max_tokens_param: str = "max_tokens") -> StreamTiming:
    """Send one streamed chat request and time it; a failure is a timing with `ok = False`."""
    timing = StreamTiming(ok=False, started=time.perf_counter())
    last: float | None = None
    chunks = 0
    try:
        stream = await _open(client, _body(request, model, max_tokens_param))
        async for chunk in stream:
            now = time.perf_counter()
            timing.model = timing.model or chunk.model
            timing.fingerprint = timing.fingerprint or getattr(chunk, "system_fingerprint", None)
            if chunk.usage is not None:
                timing.output_tokens = chunk.usage.completion_tokens or 0
                timing.input_tokens = chunk.usage.prompt_tokens
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None or not (delta.content or delta.tool_calls):
                continue
            chunks += 1
            if last is None:
                timing.ttft_ms = (now - timing.started) * 1000
            else:
                timing.gaps_ms.append((now - last) * 1000)
            last = now
    except openai.APIStatusError as exc:
        timing.error = f"HTTP {exc.status_code}"
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        timing.error = f"connection error: {type(exc).__name__}"
    except Exception as exc:  # a broken stream mid-way is a failed request, not a crashed load test
        timing.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
    timing.e2e_ms = (time.perf_counter() - timing.started) * 1000
    timing.output_tokens = timing.output_tokens or chunks
    timing.ok = timing.error is None and timing.ttft_ms is not None
    if timing.error is None and timing.ttft_ms is None:
        timing.error = "no tokens streamed"
    return timing
