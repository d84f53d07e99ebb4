"""Provider kinds by name: built-ins imported lazily, third parties through one entry-point group
(`ENTRY_POINT_GROUP`, see harness/config/plugins.py)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.config.plugins import load_factory, plugin_kinds
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.config.profiles import Profile
    from harness.providers.base import Provider


# kind -> (module path, factory name, pip extra that brings its dependencies)
_BUILTINS: dict[str, tuple[str, str, str | None]] = {
    "hf": ("harness.providers.hf.provider", "create", "hf"),
    "openai": ("harness.providers.openai.provider", "create", None),
    "fake": ("harness.providers.fake", "create", None),
}

Factory = Callable[["Profile"], "Provider"]


def known_kinds() -> list[str]:
    """Built-in kinds plus those registered by installed packages."""
    return sorted(set(_BUILTINS) | set(plugin_kinds()))


def _load_factory(kind: str) -> Factory:
    if kind in _BUILTINS:
        module_name, attr, extra = _BUILTINS[kind]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise HarnessError(_import_failure(kind, exc, extra)) from exc
        factory: Factory = getattr(module, attr)
        return factory
    plugin: Factory = load_factory(kind)  # third parties: the entry point `ENTRY_POINT_GROUP` names
    return plugin


def _import_failure(kind: str, exc: ImportError, extra: str | None) -> str:
    """A missing package gets an install hint; an installed one that fails to import (a release that
    moved something we use) is named as such, since reinstalling the extra would not help."""
    missing = exc.name and importlib.util.find_spec(exc.name.split(".")[0]) is None
    if missing:
        hint = f"pip install 'lockin-harness[{extra}]'" if extra else "reinstall lockin-harness"
        return f"provider kind '{kind}' needs {exc.name}: {hint}"
    return f"provider kind '{kind}' cannot import with the installed packages ({' '.join(str(exc).split())}); " \
           "install the versions in requirements.lock"


def create_provider(profile: Profile) -> Provider:
    """Build the provider a profile describes; raises HarnessError with an install hint on failure."""
    return _load_factory(profile.kind)(profile)


def close_provider(provider: Provider) -> None:
    """Release what the provider holds; `close` is optional in the contract."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
