"""The one retry layer for API providers (the SDK's own retries are off: `max_retries=0`).

Retried: 408, 409, 429, 5xx, timeouts, connection errors, and malformed or empty responses.
Never retried: other 4xx (400 bad request, 401/403 auth, 404 not found, 422 …).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def retry_after_s(headers: object) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    milliseconds = get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time."""

    max_retries: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_total_s: float = 120.0

    def delay(self, attempt: int, server_hint: float | None) -> float:
        """Wait before retry number `attempt` (0-based); a server's Retry-After wins when given."""
        if server_hint is not None:
            return min(server_hint, self.cap_s)
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    def allows(self, attempt: int, elapsed_s: float, next_delay: float) -> bool:
        return attempt < self.max_retries and elapsed_s + next_delay <= self.max_total_s
