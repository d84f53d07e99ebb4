"""What counts as declining to answer: the documented English refusal patterns (docs/failure-modes.md),
in one place for both readers: the SQL failure classes (`lh_is_refusal`) and the traffic scorer,
which scores a candidate against an incumbent's logged refusal by whether it declined too."""

from __future__ import annotations

import re

# Python and DuckDB (RE2) read this pattern alike; it is matched case-insensitively anywhere in the text.
REFUSAL_PATTERN = (r"\b(i can(no|'|’)?t (help|assist|provide|do|comply|answer)|i('|’)?m (not able|unable) to"
                   r"|i am (not able|unable) to|i (won('|’)t|will not) (help|provide|assist)"
                   r"|as an ai( language model)?,|i('|’)?m sorry,? but i|i apologi[sz]e,? but i)")

_REFUSAL = re.compile(REFUSAL_PATTERN, re.IGNORECASE)


def is_refusal(text: str | None) -> bool:
    """Whether the text declines in one of the documented ways."""
    return bool(_REFUSAL.search(text or ""))
