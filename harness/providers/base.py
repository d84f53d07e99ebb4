"""The provider contract: one `generate` method, and what a provider can do declared as data."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

from harness.config.features import Capability
from harness.digest import sha256_hex


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class GenRequest:
    """One generation: chat `messages` or a raw `prompt` (exactly one), decoding settings, and stops.

    Stop strings are cut inside the provider; the text returned never contains one.
    """

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenRequest takes exactly one of messages or prompt")

    def key(self) -> str:
        """A stable hash of everything that determines the answer (not of who answers)."""
        return self._key

    @cached_property
    def _key(self) -> str:
        # The same JSON as json.dumps(asdict(self)), without asdict's deep copies (a hot path for APIs).
        fields = {
            "messages": [{"content": m.content, "role": m.role} for m in self.messages] if self.messages else None,
            "prompt": self.prompt, "max_tokens": self.max_tokens, "stop": list(self.stop),
            "temperature": self.temperature, "seed": self.seed,
        }
        payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return sha256_hex(payload, 32)

    @cached_property
    def message_dicts(self) -> list[dict[str, str]]:
        """The messages as JSON-ready dicts (built once: API providers send them on every retry)."""
        return [{"role": m.role, "content": m.content} for m in self.messages or ()]

    def as_text(self) -> str:
        """The request as one readable string: the prompt, or the messages as JSON."""
        if self.prompt is not None:
            return self.prompt
        return json.dumps([asdict(m) for m in self.messages or ()], ensure_ascii=False)


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


@runtime_checkable
class Provider(Protocol):
    """A model behind one method. Results stream back as they finish, in any order."""

    info: ProviderInfo

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]: ...


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Return text up to the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
