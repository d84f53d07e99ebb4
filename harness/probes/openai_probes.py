"""Probes for OpenAI-compatible endpoints, through the SDK's typed chat API (not the hot path).

A 400/404/422 answer means the server refuses the feature ("unsupported"); an answer that ignores it
is "fail". Authentication errors stop probing; nothing from headers or keys enters the evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai

from harness.config.features import Capability
from harness.errors import HarnessError, ProviderAuthError
from harness.probes.common import (
    COUNT_MESSAGES,
    JSON_MESSAGES,
    LONG_MESSAGES,
    PERSON_SCHEMA,
    RANDOM_MESSAGES,
    SYSTEM_MESSAGES,
    SYSTEM_WORD,
    TOOL_MESSAGES,
    WEATHER_TOOL,
    ProbeResult,
    excerpt,
    stop_honoured,
    stop_word,
    valid_person,
)
from harness.providers.openai.provider import OpenAIProvider

CONTEXT_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


class _Refused(Exception):
    """The server answered the probe with a client error: the feature is not supported."""


class OpenAIProber:
    def __init__(self, provider: OpenAIProvider, max_context: int = 32768) -> None:
        self.provider = provider
        self.max_context = max_context

    def create(self, messages: list[dict[str, Any]], max_tokens: int = 16, **extra: Any) -> Any:
        """One chat completion; streams are read to the end inside the loop."""
        settings = self.provider.settings
        body = {"model": self.provider.model, "messages": messages, settings.max_tokens_param: max_tokens, **extra}
        if "temperature" not in body:
            body["temperature"] = 0.0

        async def work(client: openai.AsyncOpenAI) -> Any:
            response = await client.chat.completions.create(**body, extra_body=settings.extra_body or None)
            if extra.get("stream"):
                return [chunk async for chunk in response]
            return response

        try:
            return self.provider.call(work, timeout=settings.timeout_s * 2)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            key = self.provider.key_env or "the API key"
            raise ProviderAuthError(f"provider '{self.provider.name}': authentication failed "
                                    f"(HTTP {exc.status_code}); check {key}") from None
        except openai.APIConnectionError as exc:
            if isinstance(exc, openai.APITimeoutError):
                raise
            raise HarnessError(f"provider '{self.provider.name}': cannot reach {self.provider.base_url}") from None
        except (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError) as exc:
            raise _Refused(self.provider.scrub(" ".join(str(exc.message).split()))[:300]) from None

    def run(self) -> list[ProbeResult]:
        probes: list[tuple[Capability, Callable[[], ProbeResult]]] = [
            ("usage", self.usage), ("max_tokens", self.max_tokens), ("stop_sequences", self.stop_sequences),
            ("system_prompt", self.system_prompt), ("seed", self.seed), ("json_mode", self.json_mode),
            ("json_schema", self.json_schema), ("tools", self.tools), ("logprobs", self.logprobs), ("n", self.n),
            ("streaming", self.streaming), ("context_length", self.context_length),
        ]
        results = []
        for capability, probe in probes:
            try:
                results.append(probe())
            except _Refused as exc:
                results.append(ProbeResult(capability, "unsupported", evidence={"refused": str(exc)}))
            except openai.APITimeoutError:
                results.append(ProbeResult(capability, "error", evidence={"error": "timed out"}))
            except openai.APIStatusError as exc:
                results.append(ProbeResult(capability, "error", evidence={"error": f"HTTP {exc.status_code}"}))
        return results

    def _evidence(self, request: Any, response: Any) -> dict[str, Any]:
        shown = response if isinstance(response, list | str) else response.model_dump(exclude_none=True)
        return {"request": excerpt(request), "response": self.provider.scrub(excerpt(shown))}

    def usage(self) -> ProbeResult:
        response = self.create([{"role": "user", "content": "Say hello."}], max_tokens=8)
        usage = response.usage
        ok = usage is not None and (usage.prompt_tokens or 0) > 0 and usage.completion_tokens is not None
        value = f"prompt {usage.prompt_tokens}, completion {usage.completion_tokens}" if usage else None
        return ProbeResult("usage", "pass" if ok else "fail", value, self._evidence({"max_tokens": 8}, response))

    def max_tokens(self) -> ProbeResult:
        response = self.create(LONG_MESSAGES, max_tokens=3)
        choice = response.choices[0]
        used = response.usage.completion_tokens if response.usage else None
        ok = choice.finish_reason == "length" and (used is None or used <= 3)
        return ProbeResult("max_tokens", "pass" if ok else "fail", f"finish_reason {choice.finish_reason}, "
                           f"{used} tokens", self._evidence({"max_tokens": 3}, response))

    def stop_sequences(self) -> ProbeResult:
        baseline = self.create(COUNT_MESSAGES, max_tokens=48).choices[0].message.content or ""
        word = stop_word(baseline)
        if word is None:
            return ProbeResult("stop_sequences", "error", evidence={"error": "answer too short to pick a stop",
                                                                   "response": excerpt(baseline)})
        response = self.create(COUNT_MESSAGES, max_tokens=48, stop=[word])
        text = response.choices[0].message.content or ""
        ok = stop_honoured(baseline, word, text)
        return ProbeResult("stop_sequences", "pass" if ok else "fail", f"stop {word!r}",
                           {**self._evidence({"stop": [word]}, text), "without_stop": excerpt(baseline)})

    def system_prompt(self) -> ProbeResult:
        response = self.create(SYSTEM_MESSAGES, max_tokens=10)
        text = response.choices[0].message.content or ""
        return ProbeResult("system_prompt", "pass" if SYSTEM_WORD.lower() in text.lower() else "fail", None,
                           self._evidence(SYSTEM_MESSAGES, text))

    def seed(self) -> ProbeResult:
        texts = [self.create(RANDOM_MESSAGES, max_tokens=16, temperature=1.0, seed=1234).choices[0].message.content
                 for _ in range(2)]
        return ProbeResult("seed", "pass" if texts[0] == texts[1] else "fail", "same answer twice"
                           if texts[0] == texts[1] else "answers differ", self._evidence({"seed": 1234}, texts))

    def json_mode(self) -> ProbeResult:
        response = self.create(JSON_MESSAGES, max_tokens=80, response_format={"type": "json_object"})
        ok, why = valid_person(response.choices[0].message.content or "", strict=False)
        return ProbeResult("json_mode", "pass" if ok else "fail", why,
                           self._evidence({"response_format": "json_object"}, response))

    def json_schema(self) -> ProbeResult:
        schema = {"name": "person", "strict": True, "schema": PERSON_SCHEMA}
        response = self.create(JSON_MESSAGES, max_tokens=80,
                               response_format={"type": "json_schema", "json_schema": schema})
        ok, why = valid_person(response.choices[0].message.content or "", strict=True)
        return ProbeResult("json_schema", "pass" if ok else "fail", why,
                           self._evidence({"response_format": "json_schema"}, response))

    def tools(self) -> ProbeResult:
        response = self.create(TOOL_MESSAGES, max_tokens=64, tools=[WEATHER_TOOL], tool_choice="auto")
        calls = response.choices[0].message.tool_calls or []
        ok, why = False, "no tool call"
        if calls:
            try:
                arguments = json.loads(calls[0].function.arguments)
                ok = calls[0].function.name == "get_weather" and isinstance(arguments.get("city"), str)
                why = f"called {calls[0].function.name}({excerpt(arguments)})"
            except (json.JSONDecodeError, AttributeError) as exc:
                why = f"bad call: {type(exc).__name__}"
        return ProbeResult("tools", "pass" if ok else "fail", why, self._evidence({"tools": ["get_weather"]}, response))

    def logprobs(self) -> ProbeResult:
        response = self.create(COUNT_MESSAGES, max_tokens=4, logprobs=True, top_logprobs=2)
        content = getattr(response.choices[0].logprobs, "content", None) or []
        ok = bool(content) and all(isinstance(t.logprob, float) for t in content)
        return ProbeResult("logprobs", "pass" if ok else "fail", f"{len(content)} tokens with log-probs",
                           self._evidence({"logprobs": True, "top_logprobs": 2}, response))

    def n(self) -> ProbeResult:
        response = self.create(RANDOM_MESSAGES, max_tokens=8, n=2, temperature=1.0)
        count = len(response.choices)
        return ProbeResult("n", "pass" if count == 2 else "fail", f"{count} choices for n=2",
                           self._evidence({"n": 2}, response))

    def streaming(self) -> ProbeResult:
        chunks = self.create(COUNT_MESSAGES, max_tokens=16, stream=True)
        text = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
        ok = len(chunks) >= 2 and bool(text)
        return ProbeResult("streaming", "pass" if ok else "fail", f"{len(chunks)} chunks",
                           self._evidence({"stream": True}, text))

    def context_length(self) -> ProbeResult:
        """Grow the prompt until the server refuses it; the value is the largest accepted, in prompt tokens."""
        accepted, refused = 0, None
        for size in (s for s in CONTEXT_SIZES if s <= self.max_context):
            messages = [{"role": "user", "content": "Reply with OK. " + "apple " * size}]
            try:
                response = self.create(messages, max_tokens=1)
            except _Refused as exc:
                refused = f"{size} words refused: {exc}"
                break
            accepted = response.usage.prompt_tokens if response.usage else size
        if not accepted:
            return ProbeResult("context_length", "fail", None, {"refused": refused or ""})
        note = refused or f"every size up to the probe's cap of {self.max_context} words was accepted"
        return ProbeResult("context_length", "pass", str(accepted), {"note": excerpt(note)})
