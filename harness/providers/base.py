"""The provider contract: one `generate` method, and what a provider can do declared as data."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.config.features import Capability
from harness.digest import sha256_hex


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for: its name, and its arguments as the model wrote them."""

    name: str
    arguments: str  # raw text, normally a JSON object
    id: str | None = None

    def parsed_arguments(self) -> Any:
        """The arguments as JSON, or None when the model did not write valid JSON."""
        try:
            return json.loads(self.arguments)
        except (TypeError, ValueError):
            return None

    def as_openai(self) -> dict[str, Any]:
        call = {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        return {"id": self.id, **call} if self.id is not None else call


def tool_calls_json(calls: Sequence[ToolCall]) -> str | None:
    """Tool calls as stored (a JSON list), or None for an answer without any."""
    return json.dumps([{"name": c.name, "arguments": c.arguments, "id": c.id} for c in calls],
                      ensure_ascii=False) if calls else None


def tool_calls_from_json(text: str | None) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(**item) for item in json.loads(text)) if text else ()


@dataclass(frozen=True)
class Message:
    """A chat turn: system, user, assistant (text and/or tool calls) or tool (a call's result)."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # assistant turns that called tools
    tool_call_id: str | None = None  # tool turns: which call this answers

    def as_dict(self) -> dict[str, Any]:
        """The turn as the Chat Completions API writes it; fields a plain text turn lacks are left out."""
        turn: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            turn["tool_calls"] = [call.as_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            turn["tool_call_id"] = self.tool_call_id
        return turn


def canonical_json(value: Any) -> str | None:
    """Stable JSON text for a request field (keys sorted), or None for an absent one."""
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class GenRequest:
    """One generation: chat `messages` or a raw `prompt` (exactly one), decoding settings, stops, and
    the request surface that decides an answer: function `tools`, `tool_choice` and `response_format`
    (kept as canonical JSON text, so a request stays hashable and its key stable).

    Stop strings are cut inside the provider; the text returned never contains one.
    """

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None
    tools: str | None = None  # JSON list of {"type": "function", "function": {name, description, parameters}}
    tool_choice: str | None = None  # JSON: "auto", "none", "required" or {"type": "function", ...}
    response_format: str | None = None  # JSON: {"type": "json_object"} or {"type": "json_schema", ...}
    top_p: float | None = None  # None: the provider's default (sent only when a replayed log set it)
    parallel_tool_calls: bool | None = None  # None: the API's default (true); false allows one call at most
    presence_penalty: float | None = None  # these three and reasoning_effort: sent only when a log set them
    frequency_penalty: float | None = None
    logit_bias: str | None = None  # JSON object: token id -> bias
    reasoning_effort: str | None = None
    # Not sent and not in the key: where a replayed request's token cap came from, and what the
    # harness sent otherwise than the log did, and why (stored per generation).
    cap_origin: str | None = field(default=None, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    # Fields a logged request may set that not every provider can pass on (ProviderInfo.sends).
    OPTIONAL_FIELDS: ClassVar[tuple[str, ...]] = ("top_p", "parallel_tool_calls", "presence_penalty",
                                                  "frequency_penalty", "logit_bias", "reasoning_effort")
    _JSON_FIELDS: ClassVar[tuple[str, ...]] = ("tools", "tool_choice", "response_format", "logit_bias")

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenRequest takes exactly one of messages or prompt")

    def needs(self) -> set[str]:
        """The API features this request cannot be answered faithfully without (config.features names)."""
        needed = set()
        if self.tools is not None or any(m.tool_calls or m.role == "tool" for m in self.messages or ()):
            needed.add("tools")
        if any(m.role == "system" for m in self.messages or ()):
            needed.add("system_prompt")
        if self.response_format is not None:
            kind = json.loads(self.response_format).get("type")
            needed.add("json_schema" if kind == "json_schema" else "json_mode")
        return needed

    def is_structured(self) -> bool:
        """Whether the request asks for a structure (a JSON format, or tools): its answer is checked."""
        return self.response_format is not None or self.tools is not None

    def api_fields(self) -> dict[str, Any]:
        """The request surface beyond messages and decoding, as the Chat Completions API names it:
        tools, tool_choice, response_format and the OPTIONAL_FIELDS (those set)."""
        return {name: json.loads(value) if name in self._JSON_FIELDS else value
                for name in ("tools", "tool_choice", "response_format", *self.OPTIONAL_FIELDS)
                if (value := getattr(self, name)) is not None}

    def key(self) -> str:
        """A stable hash of everything that determines the answer (not of who answers)."""
        return self._key

    @cached_property
    def _key(self) -> str:
        # Canonical JSON of what decides the answer, built without deep copies (a hot path for APIs).
        # Fields beyond text chat join the key only when set, so keys of plain requests (and the
        # response cache under them) are what they were before tools and formats travelled.
        fields: dict[str, Any] = {
            "messages": self.message_dicts if self.messages else None,
            "prompt": self.prompt, "max_tokens": self.max_tokens, "stop": list(self.stop),
            "temperature": self.temperature, "seed": self.seed,
        }
        fields.update(self.api_fields())
        payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return sha256_hex(payload, 32)

    @cached_property
    def message_dicts(self) -> list[dict[str, Any]]:
        """The messages as JSON-ready dicts (built once: API providers send them on every retry)."""
        return [m.as_dict() for m in self.messages or ()]

    def as_text(self) -> str:
        """The request as one readable string: the prompt, or the messages as JSON."""
        if self.prompt is not None:
            return self.prompt
        return json.dumps(self.message_dicts, ensure_ascii=False)


@dataclass
class GenResult:
    """What came back for one request; `error` is None or a short reason (the text is then empty)."""

    key: str
    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None  # the answer's own time: the HTTP exchange, or its time in a batch
    queue_ms: float | None = None  # time it waited before that (a concurrency slot, a batch slot)
    error: str | None = None
    fingerprint: str | None = None
    model_reported: str | None = None
    retries: int = 0
    tool_calls: tuple[ToolCall, ...] = ()  # the functions the model called, in its order
    # For a JSON response format or tools: "api" (the provider's JSON mode or function calling),
    # "constrained:<engine>" (a grammar held local decoding: JSON formats and required tool calls) or
    # "unconstrained" (asked for in the prompt only); None for free text and for local tools under "auto"
    # (nothing holds the model's choice). The output is checked against the request whatever held it.
    json_decoding: str | None = None
    # Set by the harness, never by a provider: "cache" or "replay" when no provider call produced it.
    reused: str | None = None


@dataclass
class ProviderInfo:
    """Who answers: identity and declared capabilities, plus runtime details recorded per run."""

    name: str
    kind: str
    model: str
    revision: str | None = None
    capabilities: dict[Capability, bool] = field(default_factory=dict)
    # Filled by the provider once loaded: dtype, device, batch size, chat-template hash …
    details: dict[str, Any] = field(default_factory=dict)
    # Features this implementation cannot serve, whatever the model behind it can: a request that
    # needs one is answered `unsupported: <feature>`, never sent with the feature stripped.
    lacks: frozenset[str] = frozenset()
    # Optional request fields (GenRequest.OPTIONAL_FIELDS) this implementation passes on; a request
    # setting another one is answered without it and the generation's notes say so.
    sends: frozenset[str] = frozenset()


@runtime_checkable
class Provider(Protocol):
    """A model behind one method. Results stream back as they finish, in any order."""

    info: ProviderInfo

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]: ...


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Return text up to the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
