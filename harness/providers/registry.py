"""Provider kinds by name: built-ins imported lazily, third parties through one entry-point group."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.config.profiles import Profile
    from harness.providers.base import Provider

ENTRY_POINT_GROUP = "lockin_harness.providers"

# kind -> (module path, factory name, pip extra that brings its dependencies)
_BUILTINS: dict[str, tuple[str, str, str | None]] = {
    "hf": ("harness.providers.hf.provider", "create", "hf"),
    "openai": ("harness.providers.openai.provider", "create", None),
    "fake": ("harness.providers.fake", "create", None),
}

Factory = Callable[["Profile"], "Provider"]


def known_kinds() -> list[str]:
    """Built-in kinds plus those registered by installed packages."""
    extra = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(set(_BUILTINS) | set(extra))


def _load_factory(kind: str) -> Factory:
    if kind in _BUILTINS:
        module_name, attr, extra = _BUILTINS[kind]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f"pip install 'lockin-harness[{extra}]'" if extra else "reinstall lockin-harness"
            raise HarnessError(f"provider kind '{kind}' needs {exc.name or exc}: {hint}") from exc
        factory: Factory = getattr(module, attr)
        return factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            loaded: Factory = ep.load()
            return loaded
    raise HarnessError(f"unknown provider kind '{kind}'; known: {', '.join(known_kinds())}")


def create_provider(profile: Profile) -> Provider:
    """Build the provider a profile describes; raises HarnessError with an install hint on failure."""
    return _load_factory(profile.kind)(profile)


def close_provider(provider: Provider) -> None:
    """Release what the provider holds; `close` is optional in the contract."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
