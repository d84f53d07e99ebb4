"""An out-of-tree provider kind `echo`: answers with a fixed reply, or the prompt's last word."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.config.profiles import Profile
from harness.providers.base import GenRequest, GenResult, ProviderInfo, cut_at_stop


class EchoSettings(BaseModel):
    """The `[echo]` section of a profile."""

    model_config = ConfigDict(extra="forbid")

    reply: str | None = None  # None: echo the prompt's last word
    upper: bool = False
    latency_ms: float = Field(default=1.0, ge=0)


class EchoProvider:
    def __init__(self, profile: Profile) -> None:
        self.settings = EchoSettings.model_validate(profile.plugin_settings or {})
        self.info = ProviderInfo(name=profile.name, kind="echo", model=profile.model, revision="echo-1",
                                 details={"batch_size": 1})

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        for request in requests:
            words = request.as_text().split()
            text = self.settings.reply if self.settings.reply is not None else (words[-1] if words else "")
            text, _ = cut_at_stop(text.upper() if self.settings.upper else text, request.stop)
            yield GenResult(key=request.key(), text=text, finish_reason="stop", input_tokens=len(words),
                            output_tokens=len(text.split()), latency_ms=self.settings.latency_ms)

    def close(self) -> None:
        pass


def create(profile: Profile) -> EchoProvider:
    return EchoProvider(profile)


create.settings = EchoSettings  # type: ignore[attr-defined]
