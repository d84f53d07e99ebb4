"""The response cache: keyed by provider identity and request, never holding errors, opt-in for sampling."""

from __future__ import annotations

import json
from pathlib import Path

from harness.config.profiles import FakeSettings
from harness.providers.base import GenRequest, Message
from harness.providers.fake import FakeProvider
from harness.run.reuse import CachePolicy, Identity, ReusingProvider
from harness.run.runner import EvalOptions, run_eval
from harness.store import Store
from harness.store.cache import cache_key
from harness.store.writes import GenerationWriter
from tests.checks import query
from tests.conftest import run_harness


def _responses(db: Path, run_id: str) -> dict[tuple[str, int], str]:
    rows = query(db, "select task, doc_id, response from generations where run_id = ?", [run_id])
    return {(task, doc): text for task, doc, text in rows}


def test_a_cached_rerun_makes_no_provider_calls(isolated_runs: Path) -> None:
    db = isolated_runs / "harness.duckdb"
    first = run_eval(EvalOptions(provider="fake", suite="smoke"))
    second = run_eval(EvalOptions(provider="fake", suite="smoke"))
    assert first.provider_calls > 60 and first.cache_hits == 0
    assert second.provider_calls == 0 and second.cache_hits == first.provider_calls
    assert _responses(db, second.run_id) == _responses(db, first.run_id)
    assert len(_responses(db, first.run_id)) == 72
    # The run rows record it, and every reused generation says so.
    assert query(db, "select run_id, cache_hits, provider_calls from runs order by started_at") == [
        (first.run_id, 0, first.provider_calls), (second.run_id, first.provider_calls, 0)]
    assert query(db, "select cached, count(*) from generations group by all order by cached") == [
        (False, 72), (True, 72)]
    assert [s["value"] for s in second.scores] == [s["value"] for s in first.scores]


def test_no_cache_neither_reads_nor_writes(isolated_runs: Path) -> None:
    run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"]))
    uncached = run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"], cache=False))
    assert uncached.cache_hits == 0 and uncached.provider_calls > 0
    db = isolated_runs / "harness.duckdb"
    assert query(db, "select count(*) from response_cache where run_id = ?", [uncached.run_id]) == [(0,)]


def test_errors_are_never_cached(isolated_runs: Path, profiles: Path) -> None:
    text = (profiles / "fake.toml").read_text().replace("[fake]", "[fake]\nfail_every = 3")
    (profiles / "flaky.toml").write_text(text)
    db = isolated_runs / "harness.duckdb"
    first = run_eval(EvalOptions(provider="flaky", suite="smoke", max_error_rate=1.0))
    errors = query(db, "select count(distinct request_key) from generations where error is not null")[0][0]
    assert errors > 0
    assert query(db, "select count(*) from response_cache")[0][0] == first.provider_calls - errors
    second = run_eval(EvalOptions(provider="flaky", suite="smoke", max_error_rate=1.0))
    assert second.provider_calls == errors  # only the failed ones are asked again


def test_a_changed_profile_misses_the_cache(isolated_runs: Path, profiles: Path) -> None:
    first = run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"]))
    profile = profiles / "fake.toml"
    profile.write_text(profile.read_text().replace('replies = ["A"', 'replies = ["Z"'))
    second = run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"]))
    assert second.cache_hits == 0 and second.provider_calls == first.provider_calls


def test_the_key_holds_who_answered_and_what_was_asked() -> None:
    request = GenRequest(prompt="2+2=", max_tokens=4)
    base = cache_key("profile-a", "rev-1", request.key())
    assert base == cache_key("profile-a", "rev-1", request.key())
    assert base != cache_key("profile-b", "rev-1", request.key())
    assert base != cache_key("profile-a", "rev-2", request.key())
    assert base != cache_key("profile-a", None, request.key())
    assert base != cache_key("profile-a", "rev-1", GenRequest(prompt="2+2=", max_tokens=5).key())


def _ask(store: Store, policy: CachePolicy, requests: list[GenRequest]) -> FakeProvider:
    fake = FakeProvider("fake", FakeSettings())
    writer = GenerationWriter(store)
    reusing = ReusingProvider(fake, store, writer, Identity("fake", "hash", "1", "run"), policy)
    results = list(reusing.generate(requests))
    writer.flush()
    assert sorted(r.key for r in results) == sorted(r.key() for r in requests)
    assert reusing.counts.provider_calls == fake.calls
    return fake


def test_sampled_requests_need_a_seed_and_the_flag(tmp_path: Path) -> None:
    chat = (Message("user", "Name a colour."),)
    greedy = GenRequest(messages=chat, max_tokens=8)
    seeded = GenRequest(messages=chat, max_tokens=8, temperature=0.7, seed=1)
    unseeded = GenRequest(messages=chat, max_tokens=8, temperature=0.7)
    store = Store(tmp_path / "h.duckdb")
    _ask(store, CachePolicy(), [greedy, seeded, unseeded])
    assert _ask(store, CachePolicy(), [greedy, seeded, unseeded]).calls == 2  # only greedy was kept
    assert _ask(store, CachePolicy(sampled=True), [greedy, seeded, unseeded]).calls == 2  # now seeded is stored
    assert _ask(store, CachePolicy(sampled=True), [greedy, seeded, unseeded]).calls == 1  # the seedless one, always
    assert _ask(store, CachePolicy(enabled=False), [greedy]).calls == 1


def test_cache_clear_and_stats(isolated_runs: Path, profiles: Path) -> None:
    (profiles / "other.toml").write_text((profiles / "fake.toml").read_text())
    for name in ("fake", "other"):
        run_eval(EvalOptions(provider=name, tasks=["smoke_choice"], limit=4))
    stats = run_harness("cache", "stats", "-f", "json", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert stats.returncode == 0, stats.stderr
    assert {row["provider"]: row["responses"] for row in json.loads(stats.stdout)} == {"fake": 4, "other": 4}
    cleared = run_harness("cache", "clear", "--provider", "other")
    assert cleared.returncode == 0 and "cleared 4 cached responses of provider 'other'" in cleared.stdout
    again = run_eval(EvalOptions(provider="other", tasks=["smoke_choice"], limit=4))
    kept = run_eval(EvalOptions(provider="fake", tasks=["smoke_choice"], limit=4))
    assert again.provider_calls == 4 and kept.provider_calls == 0
    everything = run_harness("cache", "clear")
    assert everything.returncode == 0 and "cleared 8 cached responses" in everything.stdout
    assert query(isolated_runs / "harness.duckdb", "select count(*) from response_cache") == [(0,)]
