"""The `openai` provider: any OpenAI-compatible endpoint through the official SDK (AsyncOpenAI).

The API key is read from the environment variable the profile names, when the client is made, and
is held by nothing the harness stores. Retries live in one place (`retry.py`); the SDK's are off.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import httpx2  # the openai SDK's HTTP layer (its dependency): raw responses come back as httpx2.Response
import openai
from openai import AsyncOpenAI

from harness.config.profiles import OpenAISettings, Profile
from harness.config.secrets import remove_key
from harness.errors import HarnessError, ProviderAuthError
from harness.providers.base import GenRequest, GenResult, ProviderInfo, ToolCall, cut_at_stop
from harness.providers.openai.client import check_reachable, key_in_use, new_client
from harness.providers.openai.ratelimit import RateLimiter
from harness.providers.openai.retry import RetryPolicy, is_retryable_status, retry_after_s

_DONE = object()
_T = TypeVar("_T")
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
        # Absolute URLs: the SDK then skips re-joining each request's path onto base_url.
        self._chat_url = self.base_url.rstrip("/") + "/chat/completions"
        self._completions_url = self.base_url.rstrip("/") + "/completions"
        self._unreachable_streak = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: AsyncOpenAI | None = None
        self._make_client()
        check_reachable(self.name, self.base_url)
        self.info = ProviderInfo(
            name=profile.name, kind="openai", model=profile.model, revision=profile.revision,
            capabilities=dict(profile.capabilities),
            details={
                "base_url": self.base_url, "api": self.settings.api, "concurrency": self.settings.concurrency,
                "batch_size": self.settings.concurrency, "timeout_s": self.settings.timeout_s,
            },
            sends=frozenset(GenRequest.OPTIONAL_FIELDS),
        )

    def _new_client(self) -> AsyncOpenAI:
        return new_client(self.settings, self.base_url, self.key_env)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        """One event loop thread per provider, so clients and their connections live across calls
        (making a client costs ~70 ms: it loads the CA bundle)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, daemon=True, name="openai-provider").start()
        return self._loop

    def _make_client(self) -> None:
        """The client is made on the loop thread, once, when the provider is set up."""

        async def make() -> AsyncOpenAI:
            return self._new_client()

        self._client = asyncio.run_coroutine_threadsafe(make(), self._ensure_loop()).result(timeout=60)

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        """Yield results as they finish; an auth failure raises ProviderAuthError and stops the rest."""
        results: queue.Queue[Any] = queue.Queue()
        future = asyncio.run_coroutine_threadsafe(self._run_all(list(requests), results.put), self._ensure_loop())

        def finished(done: Any) -> None:
            error = None if done.cancelled() else done.exception()
            results.put(error if error is not None else _DONE)

        future.add_done_callback(finished)
        try:
            while (item := results.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            future.cancel()

    def call(self, work: Callable[[AsyncOpenAI], Coroutine[Any, Any, _T]], timeout: float | None = None) -> _T:
        """Run `work(client)` on the provider's loop: one-off requests such as capability probes."""
        if self._client is None:
            raise HarnessError(f"provider '{self.name}' is closed")
        return asyncio.run_coroutine_threadsafe(work(self._client), self._ensure_loop()).result(timeout)

    def close(self) -> None:
        """Close the clients and stop the loop thread."""
        if self._loop is None:
            return
        client, self._client = self._client, None

        async def shut() -> None:
            if client is not None:
                await client.close()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop = None

    async def _run_all(self, requests: list[GenRequest], deliver: Callable[[list[GenResult]], None]) -> None:
        """Run every request; hand results over in batches (all that finished in one loop turn), so
        the consuming thread is woken once per batch rather than once per answer."""
        client = self._client
        if client is None:
            raise HarnessError(f"provider '{self.name}' is closed")
        gate = asyncio.Semaphore(self.settings.concurrency)
        limiter = RateLimiter(self.settings.requests_per_minute, self.settings.tokens_per_minute)
        ready: list[GenResult] = []
        loop = asyncio.get_running_loop()

        def hand_over() -> None:
            if ready:
                deliver(ready.copy())
                ready.clear()

        async def one(request: GenRequest) -> None:
            ready.append(await self._call(client, request, limiter, gate))
            if len(ready) == 1:
                loop.call_soon(hand_over)

        tasks = [asyncio.create_task(one(r)) for r in requests]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            hand_over()

    async def _call(self, client: AsyncOpenAI, request: GenRequest, limiter: RateLimiter,
                    gate: asyncio.Semaphore) -> GenResult:
        key, started, attempt = request.key(), time.monotonic(), 0
        estimate = len(request.as_text()) // 4 + request.max_tokens if limiter.tokens else 0
        while True:
            waiting = time.perf_counter()
            await limiter.acquire(estimate)
            sent = time.perf_counter()
            try:
                # Only the HTTP exchange holds a concurrency slot (not backoff sleeps, not parsing),
                # and the next request goes out before this answer is parsed. Latency is that exchange;
                # the wait for the rate limiter and a slot is recorded apart, as queueing.
                async with gate:
                    sent = time.perf_counter()
                    raw = await self._send(client, request)
                latency_ms = (time.perf_counter() - sent) * 1000
                await asyncio.sleep(0)
                result = self._parse(request, self._without_key(json.loads(raw)), latency_ms, attempt)
                result.queue_ms = (sent - waiting) * 1000
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

    async def _send(self, client: AsyncOpenAI, request: GenRequest) -> bytes:
        """POST the request through the SDK's client (auth, headers, errors) with a plain JSON body.

        `client.post` is the SDK's documented way to send a raw body; it skips the typed-params
        transform, which cost half of the client's CPU per request at high concurrency.
        """
        body: dict[str, Any] = {
            **self.settings.extra_body,
            "model": self.model,
            self.settings.max_tokens_param: request.max_tokens,
            "temperature": request.temperature,
        }
        stops = [s for s in request.stop if s][: self.settings.max_stop_sequences]
        if stops:
            body["stop"] = stops
        if request.seed is not None:
            body["seed"] = request.seed
        if self.settings.api == "completions":
            if request.prompt is None:
                raise HarnessError(f"provider '{self.name}' uses the completions API; set chat_template = false")
            body["prompt"] = request.prompt
            path = self._completions_url
        else:
            body["messages"] = request.message_dicts if request.messages else [
                {"role": "user", "content": request.prompt or ""}
            ]
            body.update(request.api_fields())  # as the Chat Completions API defines them
            path = self._chat_url
        # Pre-serialised body and the raw response: the SDK still owns auth, headers and status errors,
        # but skips deep-copying the body and building a typed object we would only turn back into a dict.
        raw = await client.post(path, content=json.dumps(body).encode(), cast_to=httpx2.Response)
        return raw.content

    def _parse(self, request: GenRequest, response: Any, latency_ms: float, retries: int) -> GenResult:
        if not isinstance(response, dict):
            raise _Retryable(f"malformed response: {type(response).__name__}")
        choices = response.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise _Retryable("empty choices")
        choice = choices[0]
        calls: tuple[ToolCall, ...] = ()
        if self.settings.api == "completions":
            text = choice.get("text") or ""
        else:
            message = choice.get("message") or {}
            text = message.get("content") or ""
            calls = _tool_calls(message.get("tool_calls"))
        text, cut = cut_at_stop(str(text), request.stop)  # stops beyond the API's limit are cut here
        usage = response.get("usage") or {}
        return GenResult(
            key=request.key(), text=text, finish_reason="stop" if cut else choice.get("finish_reason"),
            input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
            latency_ms=latency_ms, fingerprint=response.get("system_fingerprint"),
            model_reported=response.get("model"), retries=retries, tool_calls=calls,
            json_decoding="api" if request.is_structured() else None,  # the API's JSON mode or function calling
        )

    def _note_unreachable(self, reason: str) -> None:
        if not reason.startswith("connection error"):
            return
        self._unreachable_streak += 1
        if self._unreachable_streak >= _DOWN_AFTER:
            raise HarnessError(f"provider '{self.name}': {self.base_url} stopped answering ({reason}); run stopped")

    def _failed(self, key: str, reason: str, sent: float, retries: int) -> GenResult:
        latency = (time.perf_counter() - sent) * 1000
        return GenResult(key=key, text="", error=self.scrub(reason)[:300], latency_ms=latency, retries=retries)

    def _short(self, exc: openai.APIStatusError) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or (body.get("error") or {}).get("message") if body else None
        return self.scrub(" ".join(str(message or exc.message).split()))

    def scrub(self, text: str) -> str:
        """Servers sometimes echo the key in error bodies: never let it reach the store."""
        return str(remove_key(text, key_in_use(self.key_env)))

    def _without_key(self, response: Any) -> Any:
        """A successful answer without the key in use, in every field (text, tool-call arguments, the
        reported model and fingerprint …): a server (or a model told it) may echo it back, and the
        answer is stored, cached and exported. The one place a server's answer enters the harness."""
        return remove_key(response, key_in_use(self.key_env))


def create(profile: Profile) -> OpenAIProvider:
    """Registry factory for kind 'openai'."""
    return OpenAIProvider(profile)


def _tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    """The message's tool calls; arguments stay as the model wrote them (parsed only when scored)."""
    if not isinstance(raw, list):
        return ()
    calls = []
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _Retryable("malformed tool call")
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        calls.append(ToolCall(name=function["name"], arguments=text, id=item.get("id")))
    return tuple(calls)
