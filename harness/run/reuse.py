"""Answer from what is already stored before asking the provider: a resumed run's own generations
first, then the response cache. Only what neither holds reaches the provider.

Providers stay unaware of this layer (they know nothing of the store); lm-eval sees one provider.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from harness.providers.base import GenRequest, GenResult, Provider, tool_calls_from_json, tool_calls_json
from harness.store import Store
from harness.store import cache as cache_table
from harness.store.writes import RowSink


@dataclass(frozen=True)
class CachePolicy:
    """Which requests may be served from, and written to, the response cache."""

    enabled: bool = True
    # A sampled answer is one draw of many: reuse it only when asked to and when a seed pins it.
    sampled: bool = False

    def allows(self, request: GenRequest) -> bool:
        if not self.enabled:
            return False
        if request.temperature > 0:
            return self.sampled and request.seed is not None
        return True


@dataclass
class ReuseCounts:
    """Where this process's answers came from; `provider_calls` counts answers the provider gave."""

    replayed: int = 0
    cache_hits: int = 0
    provider_calls: int = 0


@dataclass
class Identity:
    """Who answers, for cache keys: the profile's content hash and the model revision, and the run paying."""

    provider: str
    profile_hash: str
    revision: str | None
    run_id: str


class ReusingProvider:
    """A Provider that wraps another: replays, then cache hits, then the real provider for the rest."""

    def __init__(self, inner: Provider, store: Store, writer: RowSink, identity: Identity,
                 policy: CachePolicy, replay: dict[str, GenResult] | None = None) -> None:
        self.inner = inner
        self.info = inner.info
        self.store, self.writer, self.identity, self.policy = store, writer, identity, policy
        self.replay = replay or {}
        self.counts = ReuseCounts()

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        """Yield one result per request: stored ones first, then the provider's as they finish."""
        fresh: list[GenRequest] = []
        for request in requests:
            stored = self.replay.get(request.key())
            if stored is not None:
                self.counts.replayed += 1
                yield stored
            else:
                fresh.append(request)
        hits = self._cached([r for r in fresh if self.policy.allows(r)])
        misses = []
        for request in fresh:
            hit = hits.get(request.key())
            if hit is not None:
                self.counts.cache_hits += 1
                yield hit
            else:
                misses.append(request)
        if not misses:
            return  # nothing left to ask: the provider is not called at all
        by_key = {r.key(): r for r in misses}
        for result in self.inner.generate(misses):
            self.counts.provider_calls += 1  # counted as answers arrive: an interrupted batch counts what came back
            asked = by_key.get(result.key)
            if asked is not None and result.error is None and self.policy.allows(asked):
                self.writer.add_cache(self._row(asked, result))
            yield result

    def _key(self, request: GenRequest) -> str:
        return cache_table.cache_key(self.identity.profile_hash, self.identity.revision, request.key())

    def _cached(self, requests: list[GenRequest]) -> dict[str, GenResult]:
        """Cache hits by request key (one read for the whole batch)."""
        if not requests:
            return {}
        keys = {self._key(r): r.key() for r in requests}
        found = cache_table.lookup(self.store, list(keys))
        return {
            keys[k]: GenResult(
                key=keys[k], text=row["response"], finish_reason=row["finish_reason"],
                input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
                latency_ms=row["latency_ms"], fingerprint=row["fingerprint"],
                model_reported=row["model_reported"], reused="cache",
                tool_calls=tool_calls_from_json(row["tool_calls"]), json_decoding=row["json_decoding"],
            )
            for k, row in found.items()
        }

    def _row(self, request: GenRequest, result: GenResult) -> dict[str, Any]:
        ident = self.identity
        values = (
            self._key(request), ident.provider, ident.profile_hash, ident.revision, request.key(), result.text,
            result.finish_reason, result.input_tokens, result.output_tokens, result.latency_ms,
            result.fingerprint, result.model_reported, ident.run_id, tool_calls_json(result.tool_calls),
            result.json_decoding,
        )
        return dict(zip(cache_table.CACHE_COLUMNS, values, strict=True))
