"""`harness load`: latency under load, the numbers capacity is sized from. Streamed requests from a
traffic suite (its logged requests) or a suite's stored prompts, sent through the openai provider's
client at each concurrency level in turn (closed loop: each of C workers sends its next request when
the last one ends), for a bounded time and count per level: both are hard limits (requests are
counted when sent; at the deadline the requests in flight are cancelled and stored as cut short).
Per level: time to first token, inter-token latency, end-to-end latency (p50/p95/p99), request and
token throughput, errors.

A server that dies or fails mid-run gives a partial result, stored and marked `partial`, not a crash.
The hf provider is an offline batch engine, not a server, and is refused: serve the model (llama.cpp,
vLLM, TGI) and load-test that endpoint.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.config.overrides import Overrides, apply_overrides
from harness.config.paths import default_db, tasks_dir
from harness.config.profiles import Profile, load_profile
from harness.config.secrets import remove_key
from harness.errors import HarnessError
from harness.providers.base import GenRequest, Message
from harness.providers.openai.client import check_reachable, key_in_use, new_client
from harness.providers.openai.stream import StreamTiming, stream_once
from harness.run.replay import request_from_body
from harness.store import Store
from harness.store.load import record_load, suite_prompts
from harness.store.writes import record_provider
from harness.traffic.replay import ReplayRequest, decoding, logged_output_tokens

# A level stops early, and the run is partial, after this many failed connections in a row.
_DEAD_AFTER = 5
# The most concurrent users a level may have: the SDK's connection pool holds 1,000 connections, and
# past it users queue inside the client (latency would measure the pool, not the server); against a
# paid API a larger burst is a typo, not a test.
MAX_CONCURRENCY = 1000
# What a request the level's deadline cancelled is stored as (load_requests.error; ok is false).
CUT_SHORT = "cut short at the level's deadline"


@dataclass
class LoadOptions:
    provider: str
    suite: str | None = None
    traffic: str | None = None
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16, 64])
    duration_s: float = 60.0  # per level
    max_requests: int | None = None  # per level, a hard cap on requests sent; default 20 per worker
    max_tokens: int = 256  # cap per request (a request's own smaller cap wins)
    base_url: str | None = None
    model: str | None = None
    db: Path | None = None


@dataclass
class LoadOutcome:
    load_id: str
    status: str  # 'complete' or 'partial'
    points: list[dict[str, Any]]
    note: str | None = None


def _profile(options: LoadOptions) -> Profile:
    profile = apply_overrides(load_profile(options.provider),
                              Overrides(base_url=options.base_url, model=options.model))
    if profile.kind != "openai" or profile.openai is None or not profile.base_url:
        raise HarnessError(f"'{profile.name}' is a {profile.kind} profile: load tests measure a server. The hf "
                           "provider is an offline batch engine, not a server; serve the model (llama.cpp: "
                           "make serve-llamacpp; vLLM; TGI) and load-test that endpoint with an openai profile")
    return profile


def _requests(options: LoadOptions, store: Store) -> list[GenRequest]:
    """The requests a level cycles through: a traffic suite's logged requests, or a suite's stored prompts."""
    if (options.suite is None) == (options.traffic is None):
        raise HarnessError("give --traffic NAME (an imported traffic suite) or --suite NAME (prompts of its "
                           "latest run)")
    found: list[GenRequest] = []
    if options.traffic is not None:
        folder = tasks_dir() / "traffic" / options.traffic
        if not folder.is_dir():
            raise HarnessError(f"no imported traffic named '{options.traffic}' in {folder.parent}")
        for docs in sorted(folder.glob("*/docs.jsonl")):
            for line in docs.read_text(encoding="utf-8").splitlines():
                doc = json.loads(line)
                request = ReplayRequest(doc["request"])
                kwargs = decoding(request.body(), {"max_gen_toks": options.max_tokens}, logged_output_tokens(doc))
                found.append(request_from_body(request.body(), max_tokens=min(kwargs["max_gen_toks"],
                                                                              options.max_tokens)))
    else:
        for prompt in suite_prompts(store, str(options.suite)):
            try:
                turns = json.loads(prompt)
                messages = tuple(Message(role=t["role"], content=t.get("content") or "") for t in turns)
                found.append(GenRequest(messages=messages, max_tokens=options.max_tokens))
            except (ValueError, TypeError, KeyError):
                found.append(GenRequest(prompt=prompt, max_tokens=options.max_tokens))
    if not found:
        raise HarnessError(f"no requests to send: suite '{options.suite or options.traffic}' has none stored")
    return found


def servable(requests: list[GenRequest], profile: Profile) -> tuple[list[GenRequest], int]:
    """The requests whose features the profile does not declare absent (as an eval, never sending a
    request with a feature stripped), and how many were left out."""
    missing = {name for name, present in profile.capabilities.items() if present is False}
    kept = [r for r in requests if not (r.needs() & missing)]
    if not kept:
        raise HarnessError(f"every request needs a feature '{profile.name}' declares absent "
                           f"({', '.join(sorted(missing))}): nothing to load-test")
    return kept, len(requests) - len(kept)


async def _level(client: Any, requests: list[GenRequest], concurrency: int, duration_s: float, max_requests: int,
                 model: str, param: str) -> tuple[list[StreamTiming], float, bool]:
    """One level's timings, its wall time and whether the server died. Both caps are hard: a request is
    counted when it is sent, not when it ends (64 users must not send 64 requests under a cap of 5),
    and at the deadline the requests still in flight are cancelled and recorded as cut short."""
    done: list[StreamTiming] = []
    state = {"sent": 0, "streak": 0, "dead": False}
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker() -> None:
        while time.perf_counter() < deadline and state["sent"] < max_requests and not state["dead"]:
            request = requests[state["sent"] % len(requests)]
            state["sent"] += 1  # before the await: no other user can take the same place under the cap
            sent_at = time.perf_counter()
            try:
                timing = await stream_once(client, request, model, param)
            except asyncio.CancelledError:
                done.append(StreamTiming(ok=False, error=CUT_SHORT, started=sent_at,
                                         e2e_ms=(time.perf_counter() - sent_at) * 1000))
                raise
            done.append(timing)
            state["streak"] = state["streak"] + 1 if (timing.error or "").startswith("connection") else 0
            state["dead"] = state["dead"] or state["streak"] >= _DEAD_AFTER

    # No more users than requests allowed: the others would never send one.
    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, max_requests))]
    _, late = await asyncio.wait(workers, timeout=max(0.0, deadline - time.perf_counter()))
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return done, time.perf_counter() - start, bool(state["dead"])


def cut_short(timing: StreamTiming) -> bool:
    """A request the level's deadline cancelled: neither an answer nor an error of the server."""
    return timing.error == CUT_SHORT


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(concurrency: int, timings: list[StreamTiming], wall_s: float, partial: bool) -> dict[str, Any]:
    """One load point: percentiles over the level's successful requests, throughput over its wall time."""
    ok = [t for t in timings if t.ok]
    ended = [t for t in timings if not cut_short(t)]  # cut-short requests are sent, but neither ok nor errors
    ttft = [t.ttft_ms for t in ok if t.ttft_ms is not None]
    itl = [t.itl_ms for t in ok if t.itl_ms is not None]
    e2e = [t.e2e_ms for t in ok if t.e2e_ms is not None]
    errors = [t.error for t in ended if not t.ok]
    point: dict[str, Any] = {
        "concurrency": concurrency, "n_requests": len(timings), "n_ok": len(ok), "n_errors": len(errors),
        "error_rate": len(errors) / len(ended) if ended else None, "wall_s": wall_s,
        "rps": len(ok) / wall_s if wall_s else None,
        "output_tps": sum(t.output_tokens for t in ok) / wall_s if wall_s else None,
        "mean_output_tokens": float(np.mean([t.output_tokens for t in ok])) if ok else None,
        "partial": partial, "first_error": errors[0] if errors else None,
    }
    for name, values in (("ttft", ttft), ("itl", itl), ("e2e", e2e)):
        for q in (50, 95, 99):
            point[f"{name}_p{q}_ms"] = _pct(values, q)
    return point


def run_load(options: LoadOptions, notify: Any = None) -> LoadOutcome:
    """Run every level (stopping early on a dead server), store the points, return them."""
    profile = _profile(options)
    if not options.concurrency or any(not 1 <= c <= MAX_CONCURRENCY for c in options.concurrency):
        raise HarnessError(f"--concurrency takes levels from 1 to {MAX_CONCURRENCY:,} (e.g. 1,4,16,64), got "
                           f"{','.join(map(str, options.concurrency)) or 'none'}")
    if options.max_requests is not None and options.max_requests < 1:
        raise HarnessError("--max-requests takes a positive number (requests per level)")
    store = Store(options.db or default_db())
    requests, left_out = servable(_requests(options, store), profile)
    assert profile.openai is not None and profile.base_url is not None
    check_reachable(profile.name, profile.base_url)
    points: list[dict[str, Any]] = []
    timings_all: list[tuple[int, StreamTiming]] = []
    note: str | None = (f"{left_out} request(s) left out: they need a feature the profile declares absent"
                        if left_out else None)
    status = "complete"
    started = datetime.now(UTC).replace(tzinfo=None)

    async def all_levels() -> None:
        nonlocal note, status
        assert profile.openai is not None and profile.base_url is not None
        client = new_client(profile.openai, profile.base_url, profile.api_key_env)
        try:
            for level in options.concurrency:
                cap = options.max_requests or 20 * level
                timings, wall, dead = await _level(client, requests, level, options.duration_s, cap, profile.model,
                                                   profile.openai.max_tokens_param)
                points.append(summarise(level, timings, wall, dead))
                timings_all.extend((level, t) for t in timings)
                if notify:
                    notify(points[-1])
                if not any(t.ok for t in timings) and timings and all(cut_short(t) for t in timings):
                    cut = f"no request finished within --duration at concurrency {level}"
                    note = f"{note}; {cut}" if note else cut
                elif dead or (timings and not any(t.ok for t in timings)):
                    status, note = "partial", (f"the server stopped answering at concurrency {level} "
                                               f"({points[-1]['first_error']}); later levels were not run"
                                               + (f"; {note}" if note else ""))
                    points[-1]["partial"] = True
                    break
        finally:
            await client.close()

    asyncio.run(all_levels())
    load_id = datetime.now(UTC).strftime("load-%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    identity = next(((t.model, t.fingerprint) for _, t in timings_all if t.ok), (None, None))
    identity = tuple(remove_key(list(identity), key_in_use(profile.api_key_env)))  # a server may echo the key
    with store.connect() as con:  # the profile (its hardware price sizes the bill) under its hash
        record_provider(con, profile)
    record_load(store, {
        "load_id": load_id, "provider": profile.name, "profile_hash": profile.content_hash(), "model": profile.model,
        "base_url": profile.base_url, "model_reported": identity[0], "fingerprint": identity[1],
        "source": f"traffic:{options.traffic}" if options.traffic else f"suite:{options.suite}",
        "duration_s": options.duration_s, "levels": json.dumps(options.concurrency), "status": status, "note": note,
        "started_at": started, "finished_at": datetime.now(UTC).replace(tzinfo=None),
    }, points, [{"load_id": load_id, "concurrency": level, "ok": t.ok, "error": t.error, "ttft_ms": t.ttft_ms,
                 "itl_ms": t.itl_ms, "e2e_ms": t.e2e_ms, "output_tokens": t.output_tokens}
                for level, t in timings_all])
    return LoadOutcome(load_id, status, points, note)
