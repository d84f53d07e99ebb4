"""The `openai` provider: any OpenAI-compatible endpoint through the official SDK (AsyncOpenAI).

The API key is read from the environment variable the profile names, when the client is made, and
is held by nothing the harness stores. Retries live in one place (`retry.py`); the SDK's are off.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI

from harness.errors import HarnessError, ProviderAuthError
from harness.profiles import OpenAISettings, Profile
from harness.providers.base import GenRequest, GenResult, ProviderInfo, cut_at_stop
from harness.providers.ratelimit import RateLimiter
from harness.providers.retry import RetryPolicy, is_retryable_status, retry_after_s

_DONE = object()
# After this many samples in a row fail to connect (retries spent), the endpoint is taken as down
# and the run stops, instead of grinding through every remaining sample's retries.
_DOWN_AFTER = 3


class _Retryable(Exception):
    """A transient failure: retry after `hint` seconds if the server said, else back off."""

    def __init__(self, reason: str, hint: float | None = None) -> None:
        super().__init__(reason)
        self.hint = hint


class OpenAIProvider:
    """Chat (or legacy completions) requests with bounded concurrency, rate limits and retries."""

    def __init__(self, profile: Profile) -> None:
        assert profile.openai is not None
        self.settings: OpenAISettings = profile.openai
        if not profile.base_url:
            raise HarnessError(f"provider '{profile.name}' has no base_url; set it in the profile or pass --base-url")
        self.base_url = profile.base_url
        self.model = profile.model
        self.key_env = profile.api_key_env
        if self.key_env and not os.environ.get(self.key_env):
            raise HarnessError(f"provider '{profile.name}' needs an API key: set {self.key_env} in the environment")
        self.policy = RetryPolicy(
            max_retries=self.settings.max_retries, base_s=self.settings.backoff_base_s,
            max_total_s=self.settings.max_retry_time_s,
        )
        self.name = profile.name
        self._unreachable_streak = 0
        _check_reachable(self.name, self.base_url)
        self.info = ProviderInfo(
            name=profile.name, kind="openai", model=profile.model, revision=profile.revision,
            capabilities=dict(profile.capabilities),
            details={
                "base_url": self.base_url, "api": self.settings.api, "concurrency": self.settings.concurrency,
                "batch_size": self.settings.concurrency, "timeout_s": self.settings.timeout_s,
            },
        )

    def _client(self) -> AsyncOpenAI:
        # Local servers take any key; the SDK insists on one, so send a placeholder.
        key = os.environ.get(self.key_env, "") if self.key_env else ""
        return AsyncOpenAI(
            api_key=key or "not-needed", base_url=self.base_url, organization=self.settings.organization,
            project=self.settings.project, timeout=self.settings.timeout_s, max_retries=0,
        )

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        """Yield results as they finish; an auth failure raises ProviderAuthError and stops the rest."""
        results: queue.Queue[Any] = queue.Queue()
        loop = asyncio.new_event_loop()
        worker = threading.Thread(target=self._run_loop, args=(loop, list(requests), results.put), daemon=True)
        worker.start()
        try:
            while (item := results.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if worker.is_alive():
                for task in asyncio.all_tasks(loop):
                    loop.call_soon_threadsafe(task.cancel)
            worker.join(timeout=10)

    def _run_loop(self, loop: asyncio.AbstractEventLoop, requests: list[GenRequest], emit: Callable) -> None:
        try:
            loop.run_until_complete(self._run_all(requests, emit))
        except BaseException as exc:
            emit(exc)
        finally:
            loop.close()
            emit(_DONE)

    async def _run_all(self, requests: list[GenRequest], emit: Callable[[GenResult], None]) -> None:
        client = self._client()
        gate = asyncio.Semaphore(self.settings.concurrency)
        limiter = RateLimiter(self.settings.requests_per_minute, self.settings.tokens_per_minute)

        async def one(request: GenRequest) -> None:
            async with gate:
                emit(await self._call(client, request, limiter))

        tasks = [asyncio.create_task(one(r)) for r in requests]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _call(self, client: AsyncOpenAI, request: GenRequest, limiter: RateLimiter) -> GenResult:
        key, started, attempt = request.key(), time.monotonic(), 0
        estimate = len(request.as_text()) // 4 + request.max_tokens
        while True:
            await limiter.acquire(estimate)
            sent = time.perf_counter()
            try:
                response = await self._send(client, request)
                result = self._parse(request, response, (time.perf_counter() - sent) * 1000, attempt)
                self._unreachable_streak = 0
                return result
            except _Retryable as exc:
                reason, hint = str(exc), exc.hint
            except openai.APIStatusError as exc:
                if exc.status_code in (401, 403):
                    raise ProviderAuthError(
                        f"provider '{self.name}': authentication failed (HTTP {exc.status_code}) at {self.base_url};"
                        f" check {self.key_env or 'the API key'}"
                    ) from None
                if not is_retryable_status(exc.status_code):
                    return self._failed(key, f"HTTP {exc.status_code}: {self._short(exc)}", sent, attempt)
                reason, hint = f"HTTP {exc.status_code}", retry_after_s(exc.response.headers)
            except openai.APITimeoutError:
                reason, hint = f"timeout after {self.settings.timeout_s:g} s", None
            except openai.APIConnectionError as exc:
                reason, hint = f"connection error: {type(exc.__cause__ or exc).__name__}", None
            except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
                reason, hint = f"malformed response: {type(exc).__name__}", None
            delay = self.policy.delay(attempt, hint)
            if not self.policy.allows(attempt, time.monotonic() - started, delay):
                self._note_unreachable(reason)
                return self._failed(key, f"gave up after {attempt} retries: {reason}", sent, attempt)
            await asyncio.sleep(delay)
            attempt += 1

    async def _send(self, client: AsyncOpenAI, request: GenRequest) -> Any:
        body: dict[str, Any] = {
            "model": self.model,
            self.settings.max_tokens_param: request.max_tokens,
            "temperature": request.temperature,
        }
        stops = [s for s in request.stop if s][: self.settings.max_stop_sequences]
        if stops:
            body["stop"] = stops
        if request.seed is not None:
            body["seed"] = request.seed
        extra = dict(self.settings.extra_body) or None
        if self.settings.api == "completions":
            if request.prompt is None:
                raise HarnessError(f"provider '{self.name}' uses the completions API; set chat_template = false")
            return await client.completions.create(prompt=request.prompt, extra_body=extra, **body)
        messages: Any = [asdict(m) for m in request.messages] if request.messages else [
            {"role": "user", "content": request.prompt or ""}
        ]
        return await client.chat.completions.create(messages=messages, extra_body=extra, **body)

    def _parse(self, request: GenRequest, response: Any, latency_ms: float, retries: int) -> GenResult:
        choices = getattr(response, "choices", None)
        if not choices:
            raise _Retryable("empty choices")
        choice = choices[0]
        if self.settings.api == "completions":
            text = choice.text or ""
        else:
            text = (choice.message.content if choice.message else None) or ""
        text, cut = cut_at_stop(text, request.stop)  # stops beyond the API's limit are cut here
        usage = getattr(response, "usage", None)
        return GenResult(
            key=request.key(), text=text, finish_reason="stop" if cut else choice.finish_reason,
            input_tokens=getattr(usage, "prompt_tokens", None), output_tokens=getattr(usage, "completion_tokens", None),
            latency_ms=latency_ms, fingerprint=getattr(response, "system_fingerprint", None),
            model_reported=getattr(response, "model", None), retries=retries,
        )

    def _note_unreachable(self, reason: str) -> None:
        if not reason.startswith("connection error"):
            return
        self._unreachable_streak += 1
        if self._unreachable_streak >= _DOWN_AFTER:
            raise HarnessError(f"provider '{self.name}': {self.base_url} stopped answering ({reason}); run stopped")

    def _failed(self, key: str, reason: str, sent: float, retries: int) -> GenResult:
        latency = (time.perf_counter() - sent) * 1000
        return GenResult(key=key, text="", error=self._scrub(reason)[:300], latency_ms=latency, retries=retries)

    def _short(self, exc: openai.APIStatusError) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or (body.get("error") or {}).get("message") if body else None
        return self._scrub(" ".join(str(message or exc.message).split()))

    def _scrub(self, text: str) -> str:
        """Servers sometimes echo the key in error bodies: never let it reach the store."""
        key = os.environ.get(self.key_env, "") if self.key_env else ""
        return text.replace(key, "***") if len(key) >= 4 else text


def _check_reachable(name: str, base_url: str) -> None:
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


def create(profile: Profile) -> OpenAIProvider:
    """Registry factory for kind 'openai'."""
    return OpenAIProvider(profile)
