"""Each answer checked against the structure its request asked for (harness.traffic.conformance),
as the run stores it: a constraint can fail open, so the check runs whatever held the output."""

from __future__ import annotations

import json

from harness.providers.base import GenRequest, GenResult
from harness.traffic.conformance import check
from harness.traffic.toolmatch import parse_calls


def constraint_columns(request: GenRequest, result: GenResult) -> dict[str, str | None]:
    """`constraint_asked` and `constraint_violation` for one stored generation (nulls for an error:
    nothing came back to check)."""
    if result.error is not None or not request.is_structured():
        return {"constraint_asked": None, "constraint_violation": None}
    asked = {name: json.loads(value) for name in ("tools", "tool_choice", "response_format")
             if (value := getattr(request, name)) is not None}
    calls = parse_calls([{"name": c.name, "arguments": c.arguments} for c in result.tool_calls])
    found = check(asked, result.text, calls)
    return {"constraint_asked": found.asked if found else None,
            "constraint_violation": found.violation if found else None}
