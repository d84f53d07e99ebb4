"""Errors are not answers: count a run's errored generations and decide whether the run may count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from harness.config.error_budget import percent
from harness.providers.base import GenResult
from harness.run.feature_guard import is_unsupported


@dataclass(frozen=True)
class ErrorTally:
    n: int
    errors: int
    commonest: str | None  # the most frequent error message
    commonest_count: int = 0

    @property
    def rate(self) -> float:
        return self.errors / self.n if self.n else 0.0

    def over(self, max_rate: float) -> bool:
        return self.errors > 0 and self.rate > max_rate

    def failure_line(self, run_id: str, max_rate: float) -> str:
        """The one line a failed run ends with: how many, the commonest error, and how to go on."""
        return (f"run {run_id} failed: {self.errors} of {self.n} generations errored ({percent(self.rate)}, over "
                f"--max-error-rate {percent(max_rate)}); commonest ({self.commonest_count}x): {self.commonest}; "
                f"fix the cause, then `harness eval --resume {run_id}` asks only the errored ones again")


def tally(results: Iterable[GenResult]) -> ErrorTally:
    seen = list(results)
    # An unsupported feature is an answer (scored 0, counted as lock-in), not a failure of the run.
    errors = Counter(r.error for r in seen if r.error is not None and not is_unsupported(r.error))
    if not errors:
        return ErrorTally(len(seen), 0, None)
    message, count = errors.most_common(1)[0]
    return ErrorTally(len(seen), sum(errors.values()), message, count)
