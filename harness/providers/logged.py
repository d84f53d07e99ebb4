"""The `imported` provider: answers a team's log already holds, served back by request key.

An incumbent's logged answers become a run of the incumbent (`source = imported`) through the same
runner, scorers and store as a live run, so a comparison against it costs no API spend. It is never
chosen by a profile's kind: `harness traffic import --incumbent` builds it from the imported docs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from harness.providers.base import GenRequest, GenResult, ProviderInfo

NOT_LOGGED = "no logged answer for this request"


class LoggedProvider:
    """Yields the logged GenResult for each request key; a request the log lacks is an error."""

    def __init__(self, info: ProviderInfo, answers: dict[str, GenResult]) -> None:
        self.info, self.answers = info, answers

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        for request in requests:
            logged = self.answers.get(request.key())
            yield replace(logged, key=request.key()) if logged else GenResult(request.key(), "", error=NOT_LOGGED)

    def close(self) -> None:
        pass
