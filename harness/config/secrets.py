"""Values that look like credentials are refused wherever a profile may hold free-form data
(`[openai] extra_body`, a plugin's own section): what a profile holds is stored and hashed, and a
key pasted there would persist. Credentials belong in the variable that `api_key_env` names."""

from __future__ import annotations

import re
from typing import Any

# Names that say "this is a credential", wherever they appear as a key. "token" only where it is
# not a count or a tokenizer: `max_tokens`, `prompt_tokens` and `tokenizer` are settings, not keys.
_SECRET_NAME = re.compile(r"(?i)(api[_-]?key|secret|token(?!s|iz)|password|passwd|authori[sz]ation|credential|"
                          r"cookie|bearer|session[_-]?id|private[_-]?key)")
# Shapes of common keys: OpenAI/Anthropic-style sk-, GitHub, Hugging Face, Slack, AWS, Google, JWTs, bearer headers.
_SECRET_VALUE = re.compile(
    r"(?i)\bbearer\s+\S{8,}|\b(sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bhf_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def secret_problem(value: Any, where: str) -> str | None:
    """Where in `value` (dicts, lists, strings) something looks like a credential, without echoing it;
    None when nothing does."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_NAME.search(str(key)):
                return f"{where}.{key} looks like a credential"
            found = secret_problem(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = secret_problem(item, f"{where}[{index}]")
            if found:
                return found
    elif isinstance(value, str) and _SECRET_VALUE.search(value):
        return f"{where} holds a value that looks like a credential"
    return None


def refuse_secrets(value: Any, where: str) -> Any:
    """`value` unchanged, or ValueError (a validation error: one line, value not echoed)."""
    problem = secret_problem(value, where)
    if problem:
        raise ValueError(f"{problem}; keys never go in a profile: name the variable in api_key_env")
    return value


REMOVED = "[removed: credential]"


def scrub_secrets(value: Any, names_are_data: bool = False) -> tuple[Any, int]:
    """A copy of `value` without credentials: keys named like one are dropped, and values shaped like
    one are replaced in place by REMOVED. Returns (copy, how many were removed).

    The keys of a JSON schema's `properties` are parameter names, not settings: a function that takes
    a `password` keeps that parameter (`names_are_data`); only values shaped like a key go there."""
    if isinstance(value, dict):
        cleaned, count = {}, 0
        for key, item in value.items():
            if not names_are_data and _SECRET_NAME.search(str(key)):
                count += 1
                continue
            cleaned[key], found = scrub_secrets(item, key == "properties" and isinstance(item, dict)
                                                and not names_are_data)
            count += found
        return cleaned, count
    if isinstance(value, list | tuple):
        pairs = [scrub_secrets(item) for item in value]
        return [item for item, _ in pairs], sum(found for _, found in pairs)
    if isinstance(value, str):
        cleaned_text, found = _SECRET_VALUE.subn(REMOVED, value)
        return cleaned_text, found
    return value, 0
