"""Stored text made safe to show: every control character a terminal would act on is written out as
a visible escape instead (`\\x1b`, `\\x07`, `\\x9b`), so a model answer, a prompt or a SQL result can
never set a window title, plant a hyperlink, recolour or erase the screen. One place, used by every
printer (the CLI's tables, CSV, JSON and lines, and the Markdown report)."""

from __future__ import annotations

import math
import re
from typing import Any

# C0 controls (but tab and newline), DEL and the C1 block (0x9b alone is a CSI to many terminals).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROLS_AND_LAYOUT = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Outside JSON strings a serialiser writes only ASCII punctuation, so any of these is inside a string.
_JSON_UNESCAPED = re.compile(r"[\x7f-\x9f]")


def visible(text: str, layout: bool = True) -> str:
    """`text` with each control character shown as `\\xNN`; tabs and newlines are kept when `layout`
    (a table cell or a line may break), escaped too when not (a one-line Markdown cell)."""
    pattern = _CONTROLS if layout else _CONTROLS_AND_LAYOUT
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as null: `NaN` and `Infinity` are not JSON, and a strict reader
    (json.loads(..., parse_constant=...), jq, JavaScript) refuses the whole document for one of them."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def escape_json_text(document: str) -> str:
    """A serialised JSON document with DEL and C1 controls written as `\\u00NN` (json.dumps escapes
    only C0): still the same JSON, and nothing in it a terminal acts on."""
    return _JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
