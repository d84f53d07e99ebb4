"""`--redact`: personal data masked in message text before anything is stored. Documented patterns,
applied to every message's text, tool-call arguments and the logged answers:

- e-mail addresses (`name@host.tld`) become `[email]`;
- payment card numbers (13 to 19 digits, spaces or dashes between groups, passing the Luhn check)
  become `[card]`;
- phone numbers (an optional `+country`, then 9 to 15 digits, together or in groups split by spaces,
  dots, dashes or brackets) become `[phone]`: so does any other run of 9 to 15 digits (an order
  number, say), but not an ISO date (`2024-01-05 12:30`).

Patterns miss what they do not describe (names, addresses, national ids): say so to whoever owns the
data. Tool definitions (names and schemas) are not message text and are left as they are.

Credentials are not this module's job: `harness.config.secrets.scrub_secrets` removes them from every
record as it is read (`traffic/read.py`), with `--redact` or without, short `sk-` keys included.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d])(?:\d[ \-]?){12,18}\d(?![\d])")
_PHONE = re.compile(r"(?<![\w+])(?!\d{4}-\d{2}-\d{2})(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?"
                    r"\d{2,4}(?:[ .\-]?\d{2,4}){2,4}(?![\w])")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[phone]" if 9 <= len(digits) <= 15 else match.group()


def redact_text(text: str) -> tuple[str, int]:
    """The text with e-mails, card numbers and phone numbers masked, and how many were."""
    masked, emails = _EMAIL.subn("[email]", text)
    before = masked
    masked = _CARD.sub(_card, masked)
    cards = masked.count("[card]") - before.count("[card]")
    before = masked
    masked = _PHONE.sub(_phone, masked)
    phones = masked.count("[phone]") - before.count("[phone]")
    return masked, emails + cards + phones


def _strings(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        pairs = [_strings(item) for item in value]
        return [item for item, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        out, count = {}, 0
        for key, item in value.items():
            out[key], found = _strings(item) if key in ("content", "text", "arguments") or not isinstance(
                item, str) else (item, 0)
            count += found
        return out, count
    return value, 0


def redact_messages(messages: list[Any]) -> tuple[list[Any], int]:
    """Messages (or a logged answer's choices) with their text masked; ids, roles and names kept."""
    masked, count = _strings(messages)
    return list(masked), count
