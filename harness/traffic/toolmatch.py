"""Tool calls compared the way function-calling benchmarks compare them (BFCL's AST checker):

- a call matches when the function name is the same and its arguments are equal after JSON
  normalisation, type-leniently: 3 equals 3.0 (numbers are otherwise compared exactly), strings
  compare lowercased without spaces and the punctuation BFCL ignores (`,./-_*^`), lists compare in
  order, objects key by key;
- an argument that one side leaves out matches when the function does not require it and the other
  side passes its default (or, against BFCL's possible answers, when "" is among the accepted values);
- against BFCL's possible answers, BFCL's type rules apply too (an integer is not accepted where a
  float... see `_typed`); tests/test_bfcl_matcher.py checks every verdict against bfcl-eval's checker;
- parallel calls compare as a multiset: `f1` counts matched calls, `match` needs all of them and no
  extra one; calling when none was expected and not calling when one was are reported apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_IGNORED = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any] | None  # None: the model wrote arguments that are not a JSON object


def parse_calls(calls: Any) -> list[Call]:
    """Calls as stored or logged ({name, arguments} with arguments as JSON text or an object)."""
    found = []
    for call in calls or []:
        function = call.get("function", call) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = None
        found.append(Call(str(function.get("name", "")), arguments if isinstance(arguments, dict) else None))
    return found


def _string(value: str) -> str:
    return _IGNORED.sub("", value).lower().replace("'", '"')


def values_equal(left: Any, right: Any) -> bool:
    """Equal after type-lenient normalisation (numbers by value, strings as BFCL standardises them)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    if isinstance(left, str) and isinstance(right, str):
        return _string(left) == _string(right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(values_equal(left[k], right[k]) for k in left)
    return bool(left is None and right is None)


def _parameters(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("name") == name:
            parameters = function.get("parameters")
            return parameters if isinstance(parameters, dict) else {}
    return {}


def arguments_equal(left: dict[str, Any], right: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Argument objects equal, where a left-out optional argument equals its default."""
    required = set(parameters.get("required") or [])
    properties = parameters.get("properties") or {}
    for key in left.keys() | right.keys():
        if key in left and key in right:
            if not values_equal(left[key], right[key]):
                return False
            continue
        present = left.get(key, right.get(key))
        found = properties.get(key)
        schema: dict[str, Any] = found if isinstance(found, dict) else {}
        if key in required or "default" not in schema or not values_equal(present, schema["default"]):
            return False
    return True


@dataclass(frozen=True)
class CallComparison:
    match: bool  # the same calls, no more and no fewer
    names: bool  # the same functions (as a multiset), whatever the arguments
    f1: float  # matched calls: harmonic mean of precision and recall (1.0 when neither side calls)
    spurious: bool  # called when no call was expected
    missed: bool  # expected a call and got none


def compare_calls(expected: list[Call], got: list[Call], tools: list[dict[str, Any]]) -> CallComparison:
    """Compare a model's calls with the expected ones (the incumbent's or a reference's)."""
    unmatched = list(got)
    matched = 0
    for want in expected:
        for index, have in enumerate(unmatched):
            if have.name == want.name and have.arguments is not None and want.arguments is not None \
                    and arguments_equal(want.arguments, have.arguments, _parameters(tools, want.name)):
                matched += 1
                del unmatched[index]
                break
    f1 = 1.0 if not expected and not got else 2 * matched / (len(expected) + len(got))
    return CallComparison(
        match=matched == len(expected) == len(got),
        names=sorted(c.name for c in expected) == sorted(c.name for c in got),
        f1=f1, spurious=bool(got) and not expected, missed=bool(expected) and not got,
    )


_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,), "float": (int, float), "number": (int, float), "string": (str,), "boolean": (bool,),
    "array": (list,), "tuple": (list,), "dict": (dict,), "object": (dict,),
}


def _typed(value: Any, schema: dict[str, Any], accepted: list[Any]) -> bool:
    """BFCL's type check: an integer where a float is declared passes, a float or a bool where an
    integer is declared does not; `any` and undeclared types take anything. Like BFCL, a value of the
    type an accepted answer has passes too (BFCL reads it as a variable reference, e.g. "data['x']")."""
    allowed = _TYPES.get(str(schema.get("type")))
    if allowed is None or any(type(value) is type(option) for option in accepted if option != ""):
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def _alternatives(option: Any) -> bool:
    """A dict answer lists accepted values per key, as a call's answer does."""
    return isinstance(option, dict) and bool(option) and all(isinstance(v, list) for v in option.values())


def _fits(value: Any, option: Any) -> bool:
    if _alternatives(option):
        return isinstance(value, dict) and value.keys() <= option.keys() and all(
            (k in value and _accepted(value[k], alts)) or (k not in value and "" in alts) for k, alts in option.items())
    if isinstance(option, list) and option and all(_alternatives(o) for o in option):
        return isinstance(value, list) and len(value) == len(option) and all(
            _fits(v, o) for v, o in zip(value, option, strict=True))
    return values_equal(value, option)


def _accepted(value: Any, accepted: list[Any]) -> bool:
    return any(_fits(value, option) for option in accepted)


def call_fits_answer(call: Call, answer: dict[str, list[Any]], parameters: dict[str, Any]) -> bool:
    """One call against one BFCL possible answer ({param: [accepted values]}, "" = may be left out;
    a required parameter may not be)."""
    if call.arguments is None:
        return False
    properties = parameters.get("properties") or {}
    for key, value in call.arguments.items():
        schema = properties.get(key)
        if key not in answer or (properties and schema is None) or not _accepted(value, answer[key]):
            return False
        if isinstance(schema, dict) and not _typed(value, schema, answer[key]):
            return False
    required = set(parameters.get("required") or [])
    return all(key in call.arguments or ("" in accepted and key not in required) for key, accepted in answer.items())


def fits_possible_answers(got: list[Call], possible: list[dict[str, dict[str, list[Any]]]],
                          tools: list[dict[str, Any]]) -> bool:
    """BFCL's verdict: every expected call made once, in any order, nothing else (irrelevance: no call)."""
    if len(got) != len(possible):
        return False
    remaining = list(got)
    for entry in possible:
        (name, answer), = entry.items()
        fit = next((i for i, call in enumerate(remaining)
                    if call.name == name and call_fits_answer(call, answer, _parameters(tools, name))), None)
        if fit is None:
            return False
        del remaining[fit]
    return True
