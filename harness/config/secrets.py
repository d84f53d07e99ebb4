"""Values that look like credentials are refused anywhere in a profile: what a profile holds is
stored, hashed, printed by `providers show` and exported, so a key pasted into any field would
persist. Credentials belong in the variable that `api_key_env` names, and the `*_env` fields hold
variable names only. The same shapes are removed from imported traffic (`scrub_secrets`)."""

from __future__ import annotations

import re
from typing import Any

# Names that say "this is a credential", wherever they appear as a key. "token" only where it is
# not a count or a tokenizer: `max_tokens`, `prompt_tokens` and `tokenizer` are settings, not keys.
_SECRET_NAME = re.compile(r"(?i)(api[_-]?key|secret|token(?!s|iz)|password|passwd|authori[sz]ation|credential|"
                          r"cookie|bearer|session[_-]?id|private[_-]?key)")
# Shapes of common keys: OpenAI/Anthropic-style sk-, GitHub, Hugging Face, Slack, AWS, Google, JWTs, bearer headers.
# A short `sk-` key (a local proxy's "sk-1234") counts when it holds a digit: words such as "sk-learn"
# or "sk-image" have none, and a key shorter than 16 characters with no digit is the one shape missed.
_SECRET_VALUE = re.compile(
    r"(?i)\bbearer\s+\S{8,}|\b(sk|pk|rk)-[A-Za-z0-9_\-]{16,}|(?-i:\bsk-(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]+)|\bgh[pousr]_[A-Za-z0-9]{20,}|\bhf_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.|-----BEGIN [A-Z ]*PRIVATE KEY-----")


# An environment variable's name, as a profile's `api_key_env` (and `base_url_env` ...) must hold.
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Profile fields that name a variable (wherever they sit in a profile), never hold a value.
VARIABLE_FIELDS = ("api_key_env", "base_url_env", "model_env", "local_path_env")


def looks_like_variable_name(value: str) -> bool:
    """Whether `value` reads as an environment variable's name rather than a key: the shape
    `[A-Za-z_][A-Za-z0-9_]*`, no key shape (`hf_...`, `ghp_...`, `AKIA...` fit that too), and not a
    long run of letters and digits without a word break (a pasted hex or base62 key)."""
    if not _VARIABLE.fullmatch(value) or _SECRET_VALUE.search(value):
        return False
    return not (len(value) >= 20 and "_" not in value and any(c.isdigit() for c in value))


def _find(value: Any, where: str, names: bool) -> tuple[str, str] | None:
    """(where, what) for the first thing in `value` that looks like a credential; the value is never
    part of either."""
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if _SECRET_VALUE.search(str(key)):  # a key pasted as a table key: never echo the key itself
                return where or "the profile", "has a key that looks like a credential"
            if names and _SECRET_NAME.search(str(key)):
                return inner, "looks like a credential"
            if key in VARIABLE_FIELDS and isinstance(item, str) and not looks_like_variable_name(item):
                return inner, "looks like a key, not a variable name"
            found = _find(item, inner, names)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, f"{where}[{index}]", names)
            if found:
                return found
    elif isinstance(value, str) and _SECRET_VALUE.search(value):
        return where, "holds a value that looks like a credential"
    return None


def secret_problem(value: Any, where: str) -> str | None:
    """Where in `value` (dicts, lists, strings) something looks like a credential, without echoing it;
    None when nothing does. Keys named like a credential count too (for free-form sections)."""
    found = _find(value, where, names=True)
    return f"{found[0]} {found[1]}" if found else None


def refuse_secrets(value: Any, where: str) -> Any:
    """`value` unchanged, or ValueError (a validation error: one line, value not echoed)."""
    problem = secret_problem(value, where)
    if problem:
        raise ValueError(f"{problem}; keys never go in a profile: name the variable in api_key_env")
    return value


def profile_credential_problem(data: dict[str, Any], source: str) -> str | None:
    """One line naming the first field of a raw profile (every string, at any depth, and every
    `*_env` name) that looks like a credential, and what to do instead; None when none does.
    The profile's own field names are not checked as names (`api_key_env` is one)."""
    found = _find(data, "", names=False)
    if found is None:
        return None
    where, what = found
    if what.startswith("looks like a key, not a variable name"):
        return f"{where} in {source} {what}; put the key in an environment variable and name that variable"
    return f"{where} in {source} {what}; keys never go in a profile: name the variable in api_key_env"


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


def remove_key(value: Any, key: str) -> Any:
    """A copy of `value` (a parsed JSON answer: dicts, lists, strings) with every occurrence of the
    key in use replaced by REMOVED, in keys and values alike. Keys under 4 characters are left alone
    (a placeholder such as "x" would mangle every answer, and is no secret)."""
    if len(key) < 4:
        return value
    if isinstance(value, str):
        return value.replace(key, REMOVED)
    if isinstance(value, dict):
        return {remove_key(k, key): remove_key(v, key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [remove_key(item, key) for item in value]
    return value
