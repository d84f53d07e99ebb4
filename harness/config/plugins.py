"""Third-party provider kinds: found through one entry-point group, each may bring a pydantic model
for its own profile section (`[<kind>]`), which validates that section like the built-in ones.

A plugin's entry point names its factory (`mykind = "mypackage.module:create"`); a factory with a
`settings` attribute (a pydantic model class) takes a section. Config reads this from the entry point
itself, so a profile is checked when it is loaded, not when the provider is built.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel

from harness.errors import HarnessError

ENTRY_POINT_GROUP = "lockin_harness.providers"
BUILTIN_KINDS = ("hf", "openai", "fake")


def plugin_entry_point(kind: str) -> EntryPoint | None:
    """The installed entry point for a kind, or None."""
    return next((ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind), None)


def plugin_kinds() -> list[str]:
    """Kinds registered by installed packages."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_factory(kind: str) -> Any:
    """The plugin's factory (importing the plugin); HarnessError for an unknown or broken plugin."""
    entry = plugin_entry_point(kind)
    if entry is None:
        known = ", ".join(sorted({*BUILTIN_KINDS, *plugin_kinds()}))
        raise HarnessError(f"unknown provider kind '{kind}'; known: {known}")
    try:
        return entry.load()
    except Exception as exc:  # a plugin's own import error, whatever it is: one line naming the plugin
        raise HarnessError(f"provider kind '{kind}' ({entry.value}) failed to load: "
                           f"{type(exc).__name__}: {' '.join(str(exc).split())}") from exc


def settings_model(kind: str) -> type[BaseModel] | None:
    """The pydantic model a plugin kind declares for its `[<kind>]` section, or None."""
    model = getattr(load_factory(kind), "settings", None)
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise HarnessError(f"provider kind '{kind}': its factory's `settings` is not a pydantic model class")
    return model
