"""User-facing errors: each carries one clear line and the exit code the CLI returns."""

from pydantic import ValidationError


class HarnessError(Exception):
    """A problem the user can fix (bad input, missing weights, locked database): exit code 2."""

    exit_code = 2


class ProviderAuthError(HarnessError):
    """The provider rejected our credentials; the run stops rather than recording every sample as failed."""


class RunInterrupted(HarnessError):
    """The user pressed Ctrl-C; the run is marked interrupted and the CLI exits 130."""

    exit_code = 130


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


class NotComparable(HarnessError):
    """Two runs cannot be compared as they are (different questions, or a side that mostly failed)."""
