"""How many errored generations a run may have and still count (the same default for eval and compare)."""

from __future__ import annotations

from harness.errors import HarnessError

# Above this share of errored generations a run ends 'failed' and no comparison takes it.
DEFAULT_MAX_ERROR_RATE = 0.02


def check_max_error_rate(value: float) -> float:
    if not 0 <= value <= 1:
        raise HarnessError(f"--max-error-rate must be in [0, 1], got {value:g}")
    return value


def percent(rate: float) -> str:
    return f"{100 * rate:.1f}%".replace(".0%", "%")
