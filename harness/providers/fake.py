"""The `fake` provider: deterministic answers with no model, for fast runner and store tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from harness.config.profiles import FakeSettings, Profile
from harness.providers.base import GenRequest, GenResult, ProviderInfo, cut_at_stop


class FakeProvider:
    """Replies with `replies[hash(request) % len(replies)]`; counts calls so tests can assert on them."""

    def __init__(self, name: str, settings: FakeSettings, model: str = "fake") -> None:
        self.settings = settings
        self.calls = 0
        lacks = {"tools"} if settings.json_decoding else {"tools", "json_mode", "json_schema"}
        self.info = ProviderInfo(name=name, kind="fake", model=model, revision="1", details={"batch_size": 1},
                                 lacks=frozenset(lacks))

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        for req in requests:
            self.calls += 1
            key = req.key()
            if self.settings.delay_ms:
                time.sleep(self.settings.delay_ms / 1000)
            bucket = int(key[:8], 16)
            if self.settings.fail_every and bucket % self.settings.fail_every == 0:
                yield GenResult(key=key, text="", error="fake failure", latency_ms=self.settings.delay_ms)
                continue
            reply = self.settings.replies[bucket % len(self.settings.replies)]
            if req.response_format is not None and self.settings.json_decoding == "constrained:fake":
                reply = json.dumps(schema_instance(_format_schema(req.response_format)))
            text, _stopped = cut_at_stop(reply, req.stop)
            yield GenResult(
                key=key,
                text=text,
                finish_reason="stop",
                input_tokens=len(req.as_text().split()),
                output_tokens=len(text.split()),
                latency_ms=self.settings.delay_ms,
                model_reported=self.info.model,  # as an API names the model that answered
                json_decoding=self.settings.json_decoding if req.response_format is not None else None,
            )


def _format_schema(response_format: str) -> dict[str, Any]:
    found = json.loads(response_format)
    schema = (found.get("json_schema") or {}).get("schema") if found.get("type") == "json_schema" else None
    return schema if isinstance(schema, dict) else {"type": "object"}


def schema_instance(schema: dict[str, Any]) -> Any:
    """The smallest value a simple JSON schema accepts: required properties only, the first enum value,
    empty strings and arrays, zero (enough for the schemas tests use; not a general generator)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: schema_instance(properties.get(name) or {}) for name in schema.get("required") or []}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(str(kind))


def create(profile: Profile) -> FakeProvider:
    """Registry factory for kind 'fake'."""
    assert profile.fake is not None
    return FakeProvider(profile.name, profile.fake, model=profile.model)
