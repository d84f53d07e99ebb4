"""One-line messages from pydantic validation errors, shared by profiles, suites and custom tasks."""

from pydantic import ValidationError


def one_line(source: str, exc: ValidationError) -> str:
    """`source: field.path: message (+N more)` for the first error, so the CLI prints one line."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in first and first["loc"] and first["type"] not in ("missing", "value_error"):
        # Echo only a field's own rejected value (never a whole section, never a validator's input).
        msg = f"{msg} (got {first['input']!r})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {where}: {msg}{more}"
