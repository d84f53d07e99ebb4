"""Profile, suite and task names are names, never paths: `-p ../evil` must not load `../evil.toml`,
and `-p ''` (an unset shell variable) must not quietly become the default provider."""

from __future__ import annotations

import re

from harness.errors import HarnessError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(kind: str, value: str) -> str:
    """Return `value` if it is a plain name (letters, digits, '_', '.', '-'; no separators, no '..')."""
    if not value.strip():
        raise HarnessError(f"the {kind} name is empty (an unset shell variable?): give a name")
    if not _NAME.fullmatch(value) or ".." in value:
        raise HarnessError(f"{kind} name {value!r} is not a name: use letters, digits, '_', '.' and '-' "
                           "(no paths, no '..')")
    return value
