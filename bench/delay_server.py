"""A minimal OpenAI-compatible chat endpoint that answers every request after a fixed delay.

Async (aiohttp), so that hundreds of waiting requests cost no threads; run in its own process so
it never shares a GIL with the client being measured. Usage: python -m bench.delay_server DELAY PORT
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from aiohttp import web

from bench.loopback import start_server


def make_app(delay_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay_s)
        content = str(body["messages"][-1]["content"])
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "delay-1",
            "system_fingerprint": "fp_delay",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"ok {content[-12:]}"}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        })

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "delay"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app


def start(delay_s: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server in a child process; return (process, base_url) once it answers."""
    return start_server("bench.delay_server", str(delay_s))


if __name__ == "__main__":
    web.run_app(make_app(float(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), print=None,
                access_log=None, backlog=1024)

