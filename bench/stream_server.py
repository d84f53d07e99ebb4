"""A minimal OpenAI-compatible chat endpoint that streams a fixed number of tokens with known delays:
the first after `ttft_ms`, each next one `itl_ms` later. A load test against it must find those
numbers back. `fail_after` makes it answer HTTP 500 once it has served that many requests (a server
that starts failing mid-run). Async (aiohttp); run in its own process so it never shares a GIL with
the client being measured; GET /stats says how many chat requests arrived.
Usage: python -m bench.stream_server TTFT_MS ITL_MS TOKENS FAIL_AFTER PORT
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from aiohttp import web

from bench.loopback import start_server


def make_app(ttft_ms: float, itl_ms: float, tokens: int, fail_after: int = 0) -> web.Application:
    served = {"n": 0}

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
        body = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": "stream-1",
                "system_fingerprint": "fp_stream", "choices": [] if usage else [
                    {"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n".encode()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        served["n"] += 1
        if fail_after and served["n"] > fail_after:
            return web.json_response({"error": {"message": "scripted failure", "type": "server_error"}}, status=500)
        n = min(tokens, int(body.get("max_tokens") or tokens))
        if not body.get("stream"):
            await asyncio.sleep((ttft_ms + itl_ms * (n - 1)) / 1000)
            return web.json_response({
                "id": "chatcmpl-s", "object": "chat.completion", "created": 0, "model": "stream-1",
                "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant",
                                                                                 "content": " tok" * n}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        start = time.perf_counter()
        try:
            for i in range(n):
                # Each token leaves at its scheduled time, whatever the time spent writing the last one.
                due = start + (ttft_ms + itl_ms * i) / 1000
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await response.write(chunk({"role": "assistant", "content": " tok"} if i == 0 else
                                           {"content": " tok"}))
            await response.write(chunk({}, finish="length"))
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(chunk({}, usage={"prompt_tokens": 10, "completion_tokens": n,
                                                      "total_tokens": 10 + n}))
            await response.write(b"data: [DONE]\n\n")
        except ConnectionResetError:
            pass  # the client went away mid-stream (a load test's deadline cancels it): not the server's error
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stream-1"}]})

    async def stats(request: web.Request) -> web.Response:
        # How many chat requests arrived: a client's caps are checked against what the server saw.
        return web.json_response({"served": served["n"]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    return app


def start(ttft_ms: float, itl_ms: float, tokens: int, fail_after: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server in a child process; return (process, base_url) once it answers."""
    return start_server("bench.stream_server", str(ttft_ms), str(itl_ms), str(tokens), str(fail_after))


if __name__ == "__main__":
    # TTFT_MS ITL_MS TOKENS FAIL_AFTER PORT (start() appends the port last).
    web.run_app(make_app(float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])),
                host="127.0.0.1", port=int(sys.argv[5]), print=None, access_log=None, backlog=1024)
