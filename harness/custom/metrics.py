"""Scores for custom tasks: one function per metric, each returning 1.0 or 0.0."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _exact(response: str, reference: Any, options: dict) -> bool:
    return response.strip() == str(reference).strip()


def _contains(response: str, reference: Any, options: dict) -> bool:
    return str(reference).strip().lower() in response.lower()


def _regex(response: str, reference: Any, options: dict) -> bool:
    # The row's reference is the pattern unless the task gives one pattern for all rows.
    return re.search(options.get("pattern") or str(reference), response) is not None


def _numeric(response: str, reference: Any, options: dict) -> bool:
    found = _NUMBER.findall(response)
    if not found:
        return False
    value, target = float(found[-1].replace(",", "")), float(reference)
    return math.isclose(value, target, rel_tol=float(options.get("rel_tol", 0.0)),
                        abs_tol=float(options.get("abs_tol", 1e-9)))


def _json_value(response: str) -> Any:
    text = response.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return json.loads(fenced.group(1) if fenced else text)


def _json_valid(response: str, reference: Any, options: dict) -> bool:
    try:
        _json_value(response)
    except ValueError:
        return False
    return True


def _json_schema(response: str, reference: Any, options: dict) -> bool:
    import jsonschema

    try:
        jsonschema.validate(_json_value(response), options.get("schema") or reference)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def _code(response: str, reference: Any, options: dict) -> bool:
    from harness.custom.sandbox import SandboxLimits, run_python

    code = re.search(r"```(?:python)?\s*(.*?)```", response, re.DOTALL)
    program = (code.group(1) if code else response) + "\n\n" + str(reference) + "\n"
    return run_python(program, SandboxLimits(timeout_s=float(options.get("timeout_s", 10)))).passed


_FUNCTIONS = {"exact": _exact, "contains": _contains, "regex": _regex, "numeric": _numeric,
              "json_valid": _json_valid, "json_schema": _json_schema, "code": _code}


def score(metric: str, response: str, reference: Any, options: dict) -> float:
    return 1.0 if _FUNCTIONS[metric](response, reference, options) else 0.0
