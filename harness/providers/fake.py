"""The `fake` provider: deterministic answers with no model, for fast runner and store tests."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from harness.config.profiles import FakeSettings, Profile
from harness.providers.base import GenRequest, GenResult, ProviderInfo, cut_at_stop


class FakeProvider:
    """Replies with `replies[hash(request) % len(replies)]`; counts calls so tests can assert on them."""

    def __init__(self, name: str, settings: FakeSettings, model: str = "fake") -> None:
        self.settings = settings
        self.calls = 0
        self.info = ProviderInfo(name=name, kind="fake", model=model, revision="1", details={"batch_size": 1},
                                 lacks=frozenset({"tools", "json_mode", "json_schema"}))

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
            text, _stopped = cut_at_stop(reply, req.stop)
            yield GenResult(
                key=key,
                text=text,
                finish_reason="stop",
                input_tokens=len(req.as_text().split()),
                output_tokens=len(text.split()),
                latency_ms=self.settings.delay_ms,
                model_reported=self.info.model,  # as an API names the model that answered
            )


def create(profile: Profile) -> FakeProvider:
    """Registry factory for kind 'fake'."""
    assert profile.fake is not None
    return FakeProvider(profile.name, profile.fake, model=profile.model)
