"""The SDK client every openai-provider path uses: key from the environment at call time, the SDK's
own retries off (one retry layer: retry.py), and its aiohttp transport by default."""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI

from harness.config.profiles import OpenAISettings
from harness.errors import HarnessError


def http_client(settings: OpenAISettings) -> Any:
    # The SDK's aiohttp transport costs about half the CPU per request of its default httpx
    # one, which decides throughput at high concurrency on small machines (bench/api_throughput.py).
    if settings.http_backend == "aiohttp":
        return openai.DefaultAioHttpClient(timeout=settings.timeout_s)
    return openai.DefaultAsyncHttpxClient(timeout=settings.timeout_s)


def key_in_use(key_env: str | None) -> str:
    """The key the variable holds now ("" for none): read at call time, never kept by the harness."""
    return os.environ.get(key_env, "") if key_env else ""


def new_client(settings: OpenAISettings, base_url: str, key_env: str | None) -> AsyncOpenAI:
    """A client for one endpoint. Local servers take any key; the SDK insists on one, so a placeholder."""
    key = key_in_use(key_env)
    return AsyncOpenAI(
        api_key=key or "not-needed", base_url=base_url, organization=settings.organization,
        project=settings.project, timeout=settings.timeout_s, max_retries=0, http_client=http_client(settings),
    )


def check_reachable(name: str, base_url: str) -> None:
    """Fail fast, before a run starts, when nothing listens at the endpoint (skipped behind a proxy)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise HarnessError(f"provider '{name}': cannot reach {base_url} ({reason}); is the server running?") from exc
