"""Command-line (then environment) overrides of a profile: `harness eval` and `harness probe` apply
them the same way, and they become part of the profile so that its content hash records them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from harness.config.profiles import Profile
from harness.errors import HarnessError, one_line


@dataclass(frozen=True)
class Overrides:
    """What the command line may change in a profile; None leaves the profile's value."""

    model_path: str | None = None  # hf: local weights folder or .gguf
    batch_size: int | None = None  # hf
    base_url: str | None = None  # openai
    model: str | None = None  # openai

    def given(self) -> dict[str, Any]:
        """The overrides that were set, by name."""
        return {k: v for k, v in vars(self).items() if v}


def apply_overrides(profile: Profile, overrides: Overrides) -> Profile:
    """The profile with the overrides (and an openai profile's `base_url_env`/`model_env`) applied;
    an override that does not fit the profile's kind is refused in one line."""
    update: dict[str, Any] = {}
    if profile.hf is not None and (overrides.model_path or overrides.batch_size):
        changes = (("model_path", overrides.model_path), ("batch_size", overrides.batch_size))
        update["hf"] = profile.hf.model_copy(update={k: v for k, v in changes if v})
    elif overrides.model_path or overrides.batch_size:
        raise HarnessError(f"--model-path and --batch-size apply to hf profiles; '{profile.name}' is {profile.kind}")
    if profile.openai is not None:
        settings = profile.openai
        base_url = overrides.base_url or (os.environ.get(settings.base_url_env) if settings.base_url_env else None)
        model = overrides.model or (os.environ.get(settings.model_env) if settings.model_env else None)
        if base_url:
            update["base_url"] = base_url
        if model:
            update["model"] = model
    elif overrides.base_url or overrides.model:
        raise HarnessError(f"--base-url and --model apply to openai profiles; '{profile.name}' is {profile.kind}")
    if not update:
        return profile
    try:
        return Profile.model_validate({**profile.model_dump(by_alias=True), **update},
                                      context={"source": f"provider '{profile.name}' (with its overrides)"})
    except ValidationError as exc:
        raise HarnessError(one_line(f"provider '{profile.name}' overrides", exc)) from exc
