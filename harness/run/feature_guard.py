"""A feature a provider lacks is reported, never stripped: a request that needs one (tools, a JSON
schema, a system prompt) is answered `unsupported: <feature>` without reaching the provider, when
the provider's implementation lacks it or its profile declares the model without it.

Such an answer is not a failure of the run (it does not count against --max-error-rate) and scores
0 like any empty answer: it is lock-in, counted per feature.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.providers.base import GenRequest, GenResult, Provider

UNSUPPORTED = "unsupported: "


def is_unsupported(error: str | None) -> bool:
    return error is not None and error.startswith(UNSUPPORTED)


class FeatureGuard:
    """A Provider that answers requests needing a missing feature itself and passes the rest on."""

    def __init__(self, inner: Provider, declared: dict[str, bool]) -> None:
        self.inner, self.info = inner, inner.info
        self.missing = set(inner.info.lacks) | {name for name, present in declared.items() if present is False}

    def lacking(self, request: GenRequest) -> str | None:
        absent = sorted(request.needs() & self.missing)
        return absent[0] if absent else None

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        passed = []
        for request in requests:
            feature = self.lacking(request)
            if feature is None:
                passed.append(request)
            else:
                yield GenResult(key=request.key(), text="", error=f"{UNSUPPORTED}{feature}")
        if passed:
            yield from self.inner.generate(passed)
