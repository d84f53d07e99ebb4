"""The capture proxy: an OpenAI-compatible pass-through in front of the incumbent's base URL.

Served by aiohttp's web server, with aiohttp's client upstream: one library the harness already
ships (its streaming provider uses the client), a C-accelerated HTTP parser on both sides, streamed
bodies relayed chunk by chunk as they arrive, and access to the connection, so that an upstream that
drops the connection drops the client's too (an ASGI app can only answer 500 there).

What passes through unchanged: method, path, query, body, status code, and the headers but the
hop-by-hop ones and `Accept-Encoding` (the upstream is asked for identity bodies, so the client gets
the bytes the upstream sent and the capture reads them as they are). The client's Authorization goes
upstream and nowhere else. A client that disconnects cancels its upstream request. Each 200 answer to
`POST .../chat/completions` (or a sampled share) is handed to the writer off the request path;
`GET /metrics` (not forwarded) counts exchanges, lines written and lines dropped, by reason.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from harness.capture.writer import Exchange, WriterHandle

# Captured exchanges go to the writer in batches this often: each hand-over wakes the writer's feeder
# thread, which then competes for the GIL with the event loop's (per request, that cost p99 latency).
HAND_OVER_S = 0.05
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                  "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding", "content-encoding"})


@dataclass
class Tally:
    """What the proxy saw, for /metrics (the writer's own counters join them there)."""

    exchanges: int = 0
    captured: int = 0  # handed to the writer
    sampled_out: int = 0
    not_captured_status: int = 0  # an answer other than 200 is not traffic to replay
    upstream_failed: int = 0  # the upstream dropped or refused the connection
    client_gone: int = 0


def _forwarded(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP}


class Proxy:
    def __init__(self, upstream: str, writer: WriterHandle, sample: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.writer, self.sample = writer, sample
        self.tally = Tally()
        self.session: aiohttp.ClientSession | None = None
        self.pending: list[Exchange] = []

    async def start(self, app: web.Application) -> None:
        # No pool limit: the proxy must not queue what the client sent in parallel.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))

    async def stop(self, app: web.Application) -> None:
        self.hand_over()
        if self.session is not None:
            await self.session.close()

    def _captures(self, request: web.Request) -> bool:
        if request.method != "POST" or not request.path.rstrip("/").endswith("chat/completions"):
            return False
        if self.sample < 1.0 and random.random() >= self.sample:
            self.tally.sampled_out += 1
            return False
        return True

    async def forward(self, request: web.Request) -> web.StreamResponse:
        started_wall, started = time.time(), time.perf_counter()
        self.tally.exchanges += 1
        body = await request.read()
        capture = self._captures(request)
        query = f"?{request.query_string}" if request.query_string else ""
        url = f"{self.upstream}/{request.match_info['tail']}{query}"
        assert self.session is not None
        try:
            async with self.session.request(request.method, url, headers=_forwarded(request.headers), data=body,
                                            allow_redirects=False) as upstream:
                headers = _forwarded(upstream.headers)
                if upstream.headers.get("Content-Type", "").startswith("text/event-stream"):
                    return await self._relay(request, upstream, headers, capture, (started_wall, started, body))
                data = await upstream.read()
                self._keep(capture, upstream.status, (started_wall, started, body), data, stream=False)
                return web.Response(status=upstream.status, body=data, headers=headers)
        except asyncio.CancelledError:
            self.tally.client_gone += 1
            raise
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
            self.tally.upstream_failed += 1
            if request.transport is not None:
                request.transport.close()  # as the upstream did: the client sees a dropped connection
            raise web.HTTPBadGateway() from None

    async def _relay(self, request: web.Request, upstream: aiohttp.ClientResponse, headers: dict[str, str],
                     capture: bool, began: tuple[float, float, bytes]) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, headers=headers)
        await response.prepare(request)
        chunks: list[bytes] = []
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
            if capture:
                chunks.append(chunk)
        await response.write_eof()
        self._keep(capture, upstream.status, began, b"".join(chunks), stream=True)
        return response

    def _keep(self, capture: bool, status: int, began: tuple[float, float, bytes], data: bytes, stream: bool) -> None:
        if not capture:
            return
        if status != 200:
            self.tally.not_captured_status += 1
            return
        at, started, body = began
        self.pending.append(Exchange(at=at, request=body, response=data, stream=stream,
                                     latency_ms=(time.perf_counter() - started) * 1000))
        self.tally.captured += 1
        if len(self.pending) == 1:
            asyncio.get_running_loop().call_later(HAND_OVER_S, self.hand_over)

    def hand_over(self) -> None:
        """Give the writer what was captured since the last hand-over (one queue put, not one each)."""
        if self.pending:
            self.writer.offer(self.pending)
            self.pending = []

    async def metrics(self, request: web.Request) -> web.Response:
        counts = {**{f"proxy_{k}": v for k, v in vars(self.tally).items()},
                  **{f"writer_{k}": v for k, v in self.writer.counts().items()}}
        text = "".join(f"lockin_capture_{name} {value}\n" for name, value in counts.items())
        return web.Response(text=text, content_type="text/plain")


def application(proxy: Proxy) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_get("/metrics", proxy.metrics)
    app.router.add_route("*", "/v1/{tail:.*}", proxy.forward)
    return app
