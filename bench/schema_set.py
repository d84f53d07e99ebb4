"""A set of JSON schemas for constrained decoding: BFCL v4 parameter schemas (the `bfcl_simple` and
`bfcl_multiple` packs; `harness data pull` them first), the shipped traffic's schemas, and hand-written
ones for the constructs the first two lack (enums, nesting, arrays, anyOf, optional fields, bounded
numbers, patterns, additionalProperties false). Shared by bench/constrained_decoding.py and the tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.data.packs import pack_file
from harness.traffic.bfcl import as_tool

TRAFFIC = Path(__file__).resolve().parent.parent / "tests" / "data" / "traffic"

OWN: dict[str, dict[str, Any]] = {
    "enum": {"type": "object", "properties": {"colour": {"enum": ["red", "green", "blue"]}},
             "required": ["colour"], "additionalProperties": False},
    "nested": {"type": "object", "properties": {
        "user": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                 "required": ["name", "age"], "additionalProperties": False}},
        "required": ["user"], "additionalProperties": False},
    "array_of_strings": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}},
        "required": ["tags"], "additionalProperties": False},
    "array_of_objects": {"type": "object", "properties": {"items": {"type": "array", "maxItems": 2, "items": {
        "type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
        "required": ["sku", "qty"], "additionalProperties": False}}}, "required": ["items"],
        "additionalProperties": False},
    "any_of": {"type": "object", "properties": {"value": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
               "required": ["value"], "additionalProperties": False},
    "optional": {"type": "object", "properties": {"title": {"type": "string"}, "subtitle": {"type": "string"},
                                                  "draft": {"type": "boolean"}},
                 "required": ["title"], "additionalProperties": False},
    "bounded_numbers": {"type": "object", "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "rank": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["score", "rank"], "additionalProperties": False},
    "pattern": {"type": "object", "properties": {"date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                                                 "code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                "required": ["date", "code"], "additionalProperties": False},
    "const_and_null": {"type": "object", "properties": {"kind": {"const": "event"},
                                                        "note": {"type": ["string", "null"]}},
                       "required": ["kind", "note"], "additionalProperties": False},
    "string_lengths": {"type": "object", "properties": {"code": {"type": "string", "minLength": 2, "maxLength": 4}},
                       "required": ["code"], "additionalProperties": False},
    "one_of_objects": {"type": "object", "properties": {"shape": {"oneOf": [
        {"type": "object", "properties": {"circle": {"type": "number"}}, "required": ["circle"],
         "additionalProperties": False},
        {"type": "object", "properties": {"square": {"type": "number"}}, "required": ["square"],
         "additionalProperties": False}]}}, "required": ["shape"], "additionalProperties": False},
    "refs": {"type": "object", "$defs": {"point": {"type": "object", "properties": {
        "x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"], "additionalProperties": False}},
        "properties": {"start": {"$ref": "#/$defs/point"}, "end": {"$ref": "#/$defs/point"}},
        "required": ["start", "end"], "additionalProperties": False},
    "format_email": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}},
                     "required": ["email"], "additionalProperties": False},
    "open_object": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
    "enum_array": {"type": "object", "properties": {"days": {"type": "array", "uniqueItems": True, "maxItems": 3,
                                                             "items": {"enum": ["mon", "tue", "wed"]}}},
                   "required": ["days"], "additionalProperties": False},
}


def traffic_schemas() -> dict[str, dict[str, Any]]:
    """Every distinct schema in the shipped traffic: JSON response formats and tool parameters."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(TRAFFIC.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            request = record.get("request") or record.get("body") or record
            response_format = request.get("response_format") or {}
            if response_format.get("type") == "json_schema":
                found[f"traffic_{response_format['json_schema']['name']}"] = response_format["json_schema"]["schema"]
            for tool in request.get("tools") or []:
                found[f"traffic_{tool['function']['name']}"] = tool["function"]["parameters"]
    return found


def bfcl_schemas(count: int) -> dict[str, dict[str, Any]]:
    """`count` distinct BFCL parameter schemas (as the harness sends them), in a fixed hash order."""
    found: dict[str, dict[str, Any]] = {}
    for pack in ("bfcl_simple", "bfcl_multiple"):
        for line in pack_file(pack).read_text(encoding="utf-8").splitlines():
            for function in json.loads(line)["function"]:
                tool = as_tool(function)["function"]
                found[f"bfcl_{tool['name']}"] = tool["parameters"]
    ordered = sorted(found, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    return {name: found[name] for name in ordered[:count]}


def schema_set(bfcl: int = 30) -> dict[str, dict[str, Any]]:
    """Own + traffic + BFCL schemas by name (BFCL needs its packs pulled)."""
    return {**OWN, **traffic_schemas(), **bfcl_schemas(bfcl)}
