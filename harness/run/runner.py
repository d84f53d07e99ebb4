"""Orchestrates one (provider x suite) run: validate everything, then evaluate and persist as it goes."""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.config.error_budget import DEFAULT_MAX_ERROR_RATE
from harness.config.overrides import Overrides
from harness.config.paths import default_db
from harness.config.profiles import Profile
from harness.errors import HarnessError, RunInterrupted
from harness.providers.base import GenRequest, GenResult, Provider, tool_calls_json
from harness.providers.registry import close_provider, create_provider
from harness.run import distributed, provenance, resume
from harness.run.error_tally import tally
from harness.run.feature_guard import FeatureGuard
from harness.run.plan import RunPlan, plan_run
from harness.run.results import collect_samples, collect_task_scores
from harness.run.reuse import Identity, ReusingProvider
from harness.run.structured import constraint_columns
from harness.run.tasks import load_tasks
from harness.store import Store
from harness.store.writes import (
    GenerationWriter,
    RowSink,
    RunRow,
    finish_run,
    insert_run,
    record_provider,
    write_scores,
)

if TYPE_CHECKING:
    from harness.run.lm_adapter import ProviderLM


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, n: int = 1, errors: int = 0) -> None: ...


@dataclass
class EvalOptions:
    """One `harness eval`: which provider, which suite (or tasks), and where results go."""

    provider: str | None = None  # None: smollm2 (or, with --resume RUN_ID, the run's own)
    suite: str | None = None  # None: smoke
    tasks: list[str] | None = None
    limit: int | None = None
    db: Path | None = None
    model_path: str | None = None
    batch_size: int | None = None
    include_path: Path | None = None
    base_url: str | None = None
    model: str | None = None
    resume: str | None = None  # a run id, or "latest": finish an unfinished run instead of starting one
    # None: not given (a new run reads and writes the cache; a resumed run keeps its own policy).
    cache: bool | None = None  # read and write the response cache
    cache_sampled: bool | None = None  # also cache sampled (temperature > 0) requests that carry a seed
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE  # above it the run ends 'failed', its errors named
    imported: bool = False  # answer from the suite's logged answers (harness traffic import), not a provider

    @property
    def overrides(self) -> Overrides:
        return Overrides(model_path=self.model_path, batch_size=self.batch_size, base_url=self.base_url,
                         model=self.model)


@dataclass
class EvalOutcome:
    run_id: str
    status: str
    wall_s: float
    n_requests: int
    scores: list[dict[str, Any]] = field(default_factory=list)
    output_tokens: int = 0
    cache_hits: int = 0
    provider_calls: int = 0
    replayed: int = 0
    n_errors: int = 0


class _Recorder:
    """Receives each generation as it completes: buffers it for the store and counts progress."""

    def __init__(self, run_id: str, writer: RowSink, progress: Progress | None,
                 stored: set[tuple[str, int]] | None = None) -> None:
        self.run_id, self.writer, self.progress = run_id, writer, progress
        self.stored = stored or set()  # (task, doc) rows a resumed run already holds
        self.by_doc: dict[tuple[str, int], GenResult] = {}
        self.output_tokens = 0

    def __call__(self, task: str, doc_id: int, request: GenRequest, result: GenResult) -> None:
        self.by_doc[(task, doc_id)] = result
        if result.reused is None:  # generated in this session, not taken from the cache or a resume
            self.output_tokens += result.output_tokens or 0
        if self.progress:
            self.progress.advance(errors=int(result.error is not None))
        if result.reused == "replay" and (task, doc_id) in self.stored:
            return  # already stored by an earlier session of this run
        self.writer.add({
            "run_id": self.run_id, "task": task, "doc_id": doc_id, "request_key": result.key,
            "prompt": request.as_text(), "response": result.text, "finish_reason": result.finish_reason,
            "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
            "latency_ms": result.latency_ms, "queue_ms": result.queue_ms, "error": result.error,
            "fingerprint": result.fingerprint,
            "model_reported": result.model_reported, "retries": result.retries,
            "cached": result.reused == "cache", "tool_calls": tool_calls_json(result.tool_calls),
            "json_decoding": result.json_decoding, **constraint_columns(request, result),
            "cap_origin": request.cap_origin, "request_notes": "; ".join(request.notes) or None,
            "request_fields": json.dumps(fields, ensure_ascii=False) if (fields := request.api_fields()) else None,
        })


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _run_row(run_id: str, plan: RunPlan, provider: Provider) -> RunRow:
    profile, digest, suite, limit = plan.profile, plan.digest, plan.suite, plan.limit
    versions = provenance.versions()
    details = provider.info.details
    return RunRow(
        run_id=run_id, provider=profile.name, profile_hash=digest, suite=suite.suite,
        suite_hash=suite.content_hash or None, tasks=suite.task_names, suite_features=list(suite.features),
        status="running",
        started_at=datetime.now(UTC).replace(tzinfo=None), seed=profile.generation.seed,
        batch_size=details.get("batch_size"), dtype=details.get("dtype"), chat_template=profile.chat_template,
        chat_template_hash=details.get("chat_template_hash"), limit_docs=limit,
        harness_version=versions["harness"] or "", lm_eval_version=versions["lm_eval"] or "",
        transformers_version=versions["transformers"], torch_version=versions["torch"],
        python_version=versions["python"] or "", git_sha=provenance.git_sha(),
        provenance=json.dumps({"versions": versions, "provider": details, "revision": provider.info.revision,
                               "cache": resume.cache_record(plan.cache)}),
        pid=os.getpid(), host=resume.this_host(), latency_basis=details.get("latency_basis", "request"),
        source=details.get("source", "live"),
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np
        import torch

        np.random.seed(seed)
        torch.manual_seed(seed)
    except ImportError:
        pass


def _evaluate(lm: ProviderLM, loaded: dict, profile: Profile, limit: int | None, main: bool = True) -> dict:
    """lm-eval's evaluate; under data parallelism only the main process gets results back."""
    from lm_eval.evaluator import evaluate

    for task in loaded["tasks"].values():
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=profile.generation.seed)
    _seed_everything(profile.generation.seed)
    results = evaluate(
        lm=lm, task_dict=loaded, limit=limit, bootstrap_iters=1000, log_samples=True,
        apply_chat_template=profile.chat_template, fewshot_as_multiturn=profile.chat_template,
        verbosity="ERROR",
    )
    if not results and main:
        raise HarnessError("lm-eval returned no results")
    return results or {}


def _open_run(store: Store, plan: RunPlan, provider: Provider) -> str:
    """Insert a new run row, or take the resumed run over; return the run id."""
    if plan.target is not None:
        resume.claim(store, plan.target, provider)
        return plan.target.run_id
    run_id = new_run_id()
    with store.connect() as con:
        insert_run(con, _run_row(run_id, plan, provider))
    return run_id


def run_eval(options: EvalOptions, progress: Progress | None = None,
             notify: Callable[[str], None] | None = None) -> EvalOutcome:
    """Run a suite on a provider (or finish an unfinished run). Everything is validated before a run
    row exists; the row ends 'complete', 'failed' or 'interrupted', never left 'running' by a handled
    error. `notify` receives one-line notes, such as an earlier run this one could resume instead."""
    store = Store(options.db or default_db())
    ranks = distributed.current()  # under accelerate: only the main process writes the database
    plan = plan_run(options, store, ranks.is_main)
    if ranks.is_main:
        with store.connect() as con:
            record_provider(con, plan.profile)
        if plan.offer is not None and notify is not None:
            notify(resume.offer_line(plan.offer))
        if notify is not None:
            for warning in plan.warnings:
                notify(warning)
    _, loaded = load_tasks(plan.suite.task_names, options.include_path)
    import harness.run.lm_adapter  # noqa: F401  (lm-eval's model layer takes seconds: before the run row)

    if options.imported:
        from harness.run.imported import logged_provider

        provider: Provider = logged_provider(plan.profile, loaded)
    else:
        provider = create_provider(plan.profile)
    run_id: str | None = None
    try:
        run_id = ranks.broadcast(_open_run(store, plan, provider) if ranks.is_main else None)
        return _execute(store, ranks, plan, options, provider, run_id, loaded, progress)
    except KeyboardInterrupt as exc:  # after the row exists, before _execute took charge of it
        if run_id is None or not ranks.is_main:
            raise
        finish_run(store, run_id, "interrupted", "interrupted by the user", 0.0, tally([]))
        raise RunInterrupted(f"run {run_id} interrupted before it generated anything; "
                             f"finish it with `harness eval --resume {run_id}`") from exc
    finally:
        close_provider(provider)


def _execute(store: Store, ranks: distributed.Ranks, plan: RunPlan, options: EvalOptions, provider: Provider,
             run_id: str, loaded: dict, progress: Progress | None) -> EvalOutcome:
    """Generate, score and store an opened run; mark it complete, interrupted or failed."""
    from harness.run.lm_adapter import ProviderLM  # imports lm-eval's model layer: only once input is valid

    writer = GenerationWriter(store) if ranks.is_main else None
    sink: GenerationWriter | distributed.HeldRows = writer or distributed.HeldRows()
    identity = Identity(plan.profile.name, plan.digest, provider.info.revision, run_id)
    reusing = ReusingProvider(provider, store, sink, identity, plan.cache,
                              plan.target.replay if plan.target else None)
    recorder = _Recorder(run_id, sink, progress, plan.target.stored_docs if plan.target else None)
    guarded = FeatureGuard(reusing, {str(name): bool(v) for name, v in plan.profile.capabilities.items()})
    lm = ProviderLM(guarded, recorder, plan.profile.generation.max_tokens, plan.profile.generation.seed, ranks)
    if progress:
        lm.on_requests = progress.start
    session = _Session(store, writer, run_id, recorder, reusing)
    try:
        results = _evaluate(lm, loaded, plan.profile, plan.limit, ranks.is_main)
        recorder.by_doc = distributed.hand_over(ranks, sink, recorder.by_doc)
        distributed.add_up(ranks, reusing.counts)
        if writer is None:
            return EvalOutcome(run_id, "complete", session.elapsed(), len(recorder.by_doc))
        writer.flush()
        samples = collect_samples(run_id, results, recorder.by_doc, plan.profile)
        scores = collect_task_scores(run_id, results, plan.suite)
        write_scores(store, samples, scores)
    except KeyboardInterrupt as exc:
        if writer is None:
            raise
        session.close("interrupted", "interrupted by the user")
        stored = writer.written + len(recorder.stored)
        raise RunInterrupted(f"run {run_id} interrupted; {stored} finished generations are stored; "
                             f"finish it with `harness eval --resume {run_id}`") from exc
    except BaseException as exc:
        if writer is not None:
            session.close("failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    errors = tally(recorder.by_doc.values())
    if errors.over(options.max_error_rate):
        line = errors.failure_line(run_id, options.max_error_rate)
        session.finish("failed", line)
        raise HarnessError(line)
    session.finish("complete", None)
    counts = reusing.counts
    return EvalOutcome(run_id, "complete", session.wall_s, len(recorder.by_doc), scores, recorder.output_tokens,
                       counts.cache_hits, counts.provider_calls, counts.replayed, errors.errors)


class _Session:
    """This process's share of a run: its wall time and counts, added to the run row when it ends."""

    def __init__(self, store: Store, writer: GenerationWriter | None, run_id: str, recorder: _Recorder,
                 reusing: ReusingProvider) -> None:
        self.store, self.writer, self.run_id, self.recorder, self.reusing = store, writer, run_id, recorder, reusing
        self.started = time.monotonic()
        self.wall_s = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def finish(self, status: str, error: str | None) -> None:
        self.wall_s = self.elapsed()
        counts = self.reusing.counts
        finish_run(self.store, self.run_id, status, error, self.wall_s, tally(self.recorder.by_doc.values()),
                   counts.cache_hits, counts.provider_calls)

    def close(self, status: str, error: str) -> None:
        """Persist what finished and mark the run; a failure here must not hide the original error."""
        try:
            if self.writer is not None:
                self.writer.flush()
            self.finish(status, error)
        except Exception:
            logging.getLogger(__name__).exception("could not mark run %s %s", self.run_id, status)
