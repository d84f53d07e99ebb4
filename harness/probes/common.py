"""What every probe shares: the result shape, evidence excerpts, and the prompts both kinds send."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from harness.config.features import Capability, ProbeStatus

EXCERPT = 400  # characters of request and response kept as evidence

SYSTEM_WORD = "BANANA"
SYSTEM_MESSAGES = [
    {"role": "system",
     "content": f"You are a parrot. Whatever the user says, reply with exactly one word: {SYSTEM_WORD}"},
    {"role": "user", "content": "Hello! How are you today?"},
]
COUNT_MESSAGES = [{"role": "user", "content": "Count from 1 to 20, separated by spaces."}]
LONG_MESSAGES = [{"role": "user", "content": "Write a long story about a cat who learns to sail."}]
RANDOM_MESSAGES = [{"role": "user", "content": "Write one surprising sentence."}]
JSON_MESSAGES = [
    {"role": "system", "content": "You reply with JSON only."},
    {"role": "user", "content": 'Return a JSON object with keys "name" (a string) and "age" (an integer) '
                                "for a fictional person."},
]
PERSON_SCHEMA = {
    "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"], "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris right now? Use the get_weather tool."}]


@dataclass
class ProbeResult:
    capability: Capability
    status: ProbeStatus
    value: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def excerpt(value: Any) -> str:
    """A short, readable excerpt: JSON for structures, cut to EXCERPT characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def stop_word(baseline: str) -> str | None:
    """A word from the middle of an unconstrained answer, to send as a stop sequence."""
    words = baseline.split()
    return words[len(words) // 2] if len(words) >= 3 else None


def stop_honoured(baseline: str, word: str, stopped: str) -> bool:
    """Greedy decoding with a stop must give the baseline cut just before the stop's first occurrence."""
    return word not in stopped and baseline[: baseline.find(word)].strip() == stopped.strip()


def valid_person(text: str, strict: bool) -> tuple[bool, str]:
    """Whether `text` is a JSON object (and, when strict, valid against PERSON_SCHEMA)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return False, f"not JSON: {exc.msg}"
    if not isinstance(data, dict):
        return False, f"JSON {type(data).__name__}, not an object"
    if strict:
        import jsonschema

        try:
            jsonschema.validate(data, PERSON_SCHEMA)
        except jsonschema.ValidationError as exc:
            return False, f"schema: {exc.message}"
    return True, "valid"
