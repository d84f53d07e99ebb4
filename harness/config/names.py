"""Profile, suite and task names are names, never paths: `-p ../evil` must not load `../evil.toml`,
and `-p ''` (an unset shell variable) must not quietly become the default provider."""

from __future__ import annotations

import re

from harness.errors import HarnessError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A name becomes file and folder names with suffixes (`NAME.toml`, `traffic/NAME/NAME_tools.yaml`):
# well under the 255-byte limit on one path component, and still readable in a table.
MAX_NAME = 64


def check_name(kind: str, value: str) -> str:
    """Return `value` if it is a plain name (letters, digits, '_', '.', '-'; no separators, no '..';
    at most MAX_NAME characters); raise HarnessError otherwise."""
    if not value.strip():
        raise HarnessError(f"the {kind} name is empty (an unset shell variable?): give a name")
    if len(value) > MAX_NAME:
        raise HarnessError(f"{kind} name {value[:20]!r}... is {len(value)} characters; the limit is {MAX_NAME}")
    if not _NAME.fullmatch(value) or ".." in value:
        raise HarnessError(f"{kind} name {value!r} is not a name: use letters, digits, '_', '.' and '-' "
                           "(no paths, no '..')")
    return value
