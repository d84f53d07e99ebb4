"""The openai provider through the real SDK against a scripted loopback server: faults and retries."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.config.profiles import Profile
from harness.errors import ProviderAuthError
from harness.providers.base import GenRequest, Message
from harness.providers.openai.provider import OpenAIProvider
from tests.servers import ScriptedServer

OPENNESS = {"class": "proprietary", "licence": "proprietary", "weights": False, "code": False, "data": False}


_OPEN: list[OpenAIProvider] = []


@pytest.fixture(autouse=True)
def _close_providers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


def make_provider(base_url: str, **openai: object) -> OpenAIProvider:
    settings = {"timeout_s": 2.0, "max_retries": 3, "backoff_base_s": 0.05, "concurrency": 4, **openai}
    profile = Profile.model_validate({
        "name": "scripted", "kind": "openai", "model": "scripted", "base_url": base_url,
        "openness": OPENNESS, "openai": settings,
    })
    provider = OpenAIProvider(profile)
    _OPEN.append(provider)
    return provider


def ask(text: str) -> GenRequest:
    return GenRequest(messages=(Message("user", text),), max_tokens=8, stop=("\n",))


TRANSIENT = ["429", "429ra", "500", "502", "503", "slow", "reset", "badjson", "empty"]


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_faults_are_retried_and_recovered(server: ScriptedServer, fault: str, backend: str) -> None:
    provider = make_provider(server.base_url, http_backend=backend)
    started = time.monotonic()
    [result] = list(provider.generate([ask(f"hello fault={fault}")]))
    assert result.error is None, result.error
    assert result.text.startswith("ok")
    assert result.retries == 1
    assert server.calls[f"hello fault={fault}"] == 2
    assert result.input_tokens == 7 and result.output_tokens == 3
    assert result.fingerprint == "fp_scripted" and result.model_reported == "scripted-1"
    if fault == "429ra":
        assert time.monotonic() - started >= 0.95  # waited as the server asked


def test_context_length_400_is_permanent_and_recorded(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url)
    [result] = list(provider.generate([ask("fault=ctx400")]))
    assert result.error is not None and "HTTP 400" in result.error and "context length" in result.error
    assert result.text == "" and result.retries == 0
    assert server.calls["fault=ctx400"] == 1  # never retried


def test_retries_are_bounded_in_count(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url, max_retries=3)
    [result] = list(provider.generate([ask("fault=always500")]))
    assert result.error is not None and result.error.startswith("gave up after 3 retries")
    assert server.calls["fault=always500"] == 4


def test_retries_are_bounded_in_time(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url, max_retries=50, max_retry_time_s=2.0, backoff_base_s=0.5)
    started = time.monotonic()
    [result] = list(provider.generate([ask("fault=always500")]))
    assert result.error is not None and "gave up" in result.error
    assert time.monotonic() - started < 4.0


def test_auth_failure_stops_the_run(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url)
    requests = [ask(f"fine {i}") for i in range(3)] + [ask("fault=401")]
    with pytest.raises(ProviderAuthError, match="authentication failed"):
        list(provider.generate(requests))
    assert server.calls["fault=401"] == 1


def test_mixed_batch_loses_no_sample(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url, concurrency=8)
    texts = [f"q{i} fault={TRANSIENT[i % len(TRANSIENT)]}" for i in range(27)] + ["fault=ctx400"]
    results = {r.key: r for r in provider.generate([ask(t) for t in texts])}
    assert len(results) == len(texts)
    errors = [r for r in results.values() if r.error]
    assert len(errors) == 1 and "HTTP 400" in (errors[0].error or "")
    # Every scripted fault cost at least one retry (a loaded machine may add a timeout or two).
    assert sum(r.retries for r in results.values()) >= 27


def test_concurrency_is_bounded(server: ScriptedServer) -> None:
    server.delay_s = 0.2
    provider = make_provider(server.base_url, concurrency=3)
    results = list(provider.generate([ask(f"c{i}") for i in range(9)]))
    assert len(results) == 9 and all(r.error is None for r in results)
    assert server.peak == 3


def test_more_than_four_stops_are_cut_client_side(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url)
    request = GenRequest(messages=(Message("user", "abcdef"),), max_tokens=8, stop=("1", "2", "3", "4", "cd"))
    [result] = list(provider.generate([request]))
    assert result.text == "ok ab" and result.finish_reason == "stop"


def test_requests_per_minute_limit(server: ScriptedServer) -> None:
    # 60/min: a burst of 10 (ten seconds' worth) goes at once, then one per second.
    provider = make_provider(server.base_url, requests_per_minute=60, concurrency=16)
    started = time.monotonic()
    results = list(provider.generate([ask(f"r{i}") for i in range(12)]))
    elapsed = time.monotonic() - started
    assert len(results) == 12 and 1.5 <= elapsed < 10.0, elapsed


def test_tokens_per_minute_limit(server: ScriptedServer) -> None:
    # Each request is estimated at ~8 + 8 tokens; 600 tokens/min bursts 100, then 10 per second.
    provider = make_provider(server.base_url, tokens_per_minute=600, concurrency=16)
    started = time.monotonic()
    results = list(provider.generate([ask(f"t{i}") for i in range(8)]))
    assert len(results) == 8 and time.monotonic() - started >= 1.5


def test_retry_after_forms() -> None:
    from email.utils import formatdate

    from harness.providers.openai.retry import RetryPolicy, retry_after_s

    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "1500"}) == 1.5
    in_three = retry_after_s({"retry-after": formatdate(time.time() + 3, usegmt=True)})
    assert in_three is not None and 1.0 <= in_three <= 3.5
    assert retry_after_s({}) is None
    policy = RetryPolicy(max_retries=2, base_s=1.0, cap_s=8.0)
    assert policy.delay(0, 5.0) == 5.0 and policy.delay(0, 100.0) == 8.0
    assert all(0 <= policy.delay(3, None) <= 8.0 for _ in range(100))
    assert policy.allows(1, 0.0, 1.0) and not policy.allows(2, 0.0, 1.0)


def test_legacy_completions_api(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url, api="completions")
    [result] = list(provider.generate([GenRequest(prompt="Q: 2+2?\nA:", max_tokens=4, stop=("\n",))]))
    assert result.error is None and result.text == "ok Q: 2+2?"  # cut at the newline client-side
    assert server.calls["Q: 2+2?\nA:"] == 1


def test_organization_and_project_are_sent(server: ScriptedServer) -> None:
    provider = make_provider(server.base_url, organization="org-123", project="proj-9")
    [result] = list(provider.generate([ask("who")]))
    assert result.error is None
    assert ("org-123", "proj-9") in server.org_project
