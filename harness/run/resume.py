"""Resuming a run that did not finish: interrupted (Ctrl-C), failed, or crashed (still 'running' but
its process is gone).

A resumed run keeps its run id: the row goes back to 'running' under the new process and ends
'complete' like any run. It runs with the profile stored for it (not the file as it is now), the
same suite and limit, and the same cache policy (a `--no-cache` run stays one: a drift check must
ask the vendor every time); generations already stored are replayed to lm-eval instead of being
asked again, and lm-eval then scores every doc, so the finished run equals an uninterrupted one.
Generations stored with an error are asked again (errors are never reused, as in the cache).

Options given with a resume must agree with what the run stored; one that would change it is
refused in one line (the run's answers must all come from one setting).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config.profiles import Profile
from harness.config.suites import Suite, adhoc_suite, load_suite
from harness.errors import HarnessError, one_line
from harness.providers.base import GenResult, Provider, tool_calls_from_json
from harness.run.reuse import CachePolicy
from harness.store import Store
from harness.store.queries import list_runs
from harness.store.runs import claim_run, get_run, stored_generations, unfinished_runs


@dataclass
class ResumeTarget:
    """A run to finish: its row, rebuilt profile and suite, and the generations to replay by request key."""

    run: dict[str, Any]
    profile: Profile
    suite: Suite
    replay: dict[str, GenResult] = field(default_factory=dict)
    stored_docs: set[tuple[str, int]] = field(default_factory=set)
    cache: CachePolicy = field(default_factory=CachePolicy)  # the policy the run started with

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    @property
    def limit(self) -> int | None:
        return self.run["limit_docs"]


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that owns a 'running' row may still be working. A process on another
    host cannot be checked, so it counts as alive; a zombie or a reused pid running something else
    counts as gone."""
    if pid is None:
        return False
    if host and host != this_host():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.is_dir():
        try:
            return "harness" in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            return False
    return True


def resumable(run: dict[str, Any]) -> bool:
    return run["status"] in ("failed", "interrupted") or (
        run["status"] == "running" and not process_alive(run["pid"], run["host"]))


def _state(run: dict[str, Any]) -> str:
    return "crashed" if run["status"] == "running" else str(run["status"])


def runs_overview(db: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Stored runs, newest first, with 'running' shown as 'crashed' once its process is gone."""
    columns, rows = list_runs(db)
    status, pid, host = columns.index("status"), columns.index("pid"), columns.index("host")
    shown = []
    for row in rows:
        values = list(row)
        if values[status] == "running" and not process_alive(values[pid], values[host]):
            values[status] = "crashed"
        shown.append(tuple(values[:pid]))
    return columns[:pid], shown


def _same_tasks(run: dict[str, Any], suite: Suite) -> bool:
    return list(run["tasks"]) == suite.task_names


def find_offer(store: Store, profile_name: str, digest: str, suite: Suite,
               limit: int | None) -> dict[str, Any] | None:
    """The newest unfinished run of this exact profile, suite version and limit that stored at least
    one generation (a run with nothing stored saves nothing), or None."""
    return next((run for run in unfinished_runs(store, profile_name, suite.suite)
                 if run["profile_hash"] == digest and run["suite_hash"] == (suite.content_hash or None)
                 and _same_tasks(run, suite) and run["limit_docs"] == limit and run["stored"]
                 and resumable(run)), None)


def find_latest(store: Store, profile_name: str, suite: Suite) -> dict[str, Any] | None:
    """What `--resume latest` finishes: the newest interrupted, failed or crashed run of this provider
    and suite (for `-t` tasks, of those tasks), however it was started (overrides, limit) and even if
    it stopped before its first answer; its own settings then apply. None when there is none."""
    return next((run for run in unfinished_runs(store, profile_name, suite.suite)
                 if (suite.suite != "adhoc" or _same_tasks(run, suite)) and resumable(run)), None)


def offer_line(run: dict[str, Any]) -> str:
    """One line for the user: which earlier run could be finished instead, and what it would save."""
    return (f"note: run {run['run_id']} of this provider and suite is {_state(run)}; "
            f"`harness eval --resume {run['run_id']}` (or --resume latest) would reuse its "
            f"{run['stored']} stored generations")


def load_target(store: Store, run_id: str, given: dict[str, Any]) -> ResumeTarget:
    """Check that `run_id` can be resumed with these options and rebuild what it ran with.
    `given` holds the eval options the user set explicitly (None: not given); each must agree with
    the run. Raises HarnessError with one line."""
    run = get_run(store, run_id)
    if run is None:
        raise HarnessError(f"no run '{run_id}' in {store.path}; see `harness runs list`")
    if run["status"] == "complete":
        raise HarnessError(f"run {run_id} is complete; nothing to resume")
    if not resumable(run):
        raise HarnessError(f"run {run_id} is still running (PID {run['pid']} on {run['host']}); "
                           "wait for it or stop it first")
    profile = _stored_profile(run)
    cache = _stored_cache(run, given)
    _check_given(run, _settings(run, profile, cache), given)
    suite = adhoc_suite(list(run["tasks"])) if run["suite"] == "adhoc" else load_suite(run["suite"])
    if (suite.content_hash or None) != run["suite_hash"]:
        raise HarnessError(f"suite '{run['suite']}' changed since run {run_id} started; start a new run")
    target = ResumeTarget(run=run, profile=profile, suite=suite, cache=cache)
    for row in stored_generations(store, run_id):
        target.stored_docs.add((row.pop("task"), row.pop("doc_id")))
        key = row.pop("request_key")
        calls = tool_calls_from_json(row.pop("tool_calls"))
        target.replay[key] = GenResult(key=key, text=row.pop("response"), reused="replay", tool_calls=calls, **row)
    return target


def cache_record(policy: CachePolicy) -> dict[str, bool]:
    """The cache policy as the run row's provenance stores it (what a resume keeps)."""
    return {"enabled": policy.enabled, "sampled": policy.sampled}


def _stored_cache(run: dict[str, Any], given: dict[str, Any]) -> CachePolicy:
    """The run's own cache policy; a run stored before policies were recorded takes the flags given
    now (or the defaults), since nothing says otherwise."""
    stored = json.loads(run["provenance"] or "{}").get("cache")
    if isinstance(stored, dict):
        return CachePolicy(bool(stored.get("enabled", True)), bool(stored.get("sampled", False)))
    enabled, sampled = given.get("cache"), given.get("cache_sampled")
    return CachePolicy(True if enabled is None else enabled, bool(sampled))


def _settings(run: dict[str, Any], profile: Profile, cache: CachePolicy) -> dict[str, Any]:
    """What the run was started with, by option name."""
    settings = {"provider": run["provider"], "suite": run["suite"], "tasks": list(run["tasks"]),
                "limit": run["limit_docs"], "cache": cache.enabled, "cache_sampled": cache.sampled}
    if profile.openai is not None:
        settings.update(base_url=profile.base_url, model=profile.model)
    if profile.hf is not None:
        settings.update(model_path=profile.hf.model_path, batch_size=profile.hf.batch_size)
    return settings


def _flag(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"--{'' if value else 'no-'}{name.replace('_', '-')}"
    return f"--{name.replace('_', '-')} {value}"


def _check_given(run: dict[str, Any], stored: dict[str, Any], given: dict[str, Any]) -> None:
    for name, value in given.items():
        if value is None:
            continue
        if name not in stored:
            raise HarnessError(f"--{name.replace('_', '-')} does not apply to run {run['run_id']} "
                               f"({run['provider']}); drop it: a resumed run keeps its own settings")
        if value != stored[name]:
            was = "none" if stored[name] is None else _flag(name, stored[name])
            raise HarnessError(f"run {run['run_id']} ran with {was}, not {_flag(name, value)}; drop the option "
                               "(a resumed run keeps its own settings) or start a new run")


def _stored_profile(run: dict[str, Any]) -> Profile:
    """The profile exactly as the run stored it (overrides included), so the resume asks the same model."""
    try:
        profile = Profile.model_validate(json.loads(run["profile_json"] or "null"))
    except (ValidationError, ValueError) as exc:
        detail = one_line("stored profile", exc) if isinstance(exc, ValidationError) else str(exc)
        raise HarnessError(f"run {run['run_id']}: cannot rebuild its profile ({detail})") from exc
    if profile.content_hash() != run["profile_hash"]:
        raise HarnessError(f"run {run['run_id']}: its stored profile no longer hashes to {run['profile_hash']}")
    return profile


def claim(store: Store, target: ResumeTarget, provider: Provider) -> None:
    """Check the provider still serves the same model revision, then take the run over."""
    stored = json.loads(target.run["provenance"] or "{}").get("revision")
    if stored != provider.info.revision:
        raise HarnessError(f"run {target.run_id} ran {stored!r}; the provider now reports revision "
                           f"{provider.info.revision!r}; start a new run")
    if not claim_run(store, target.run_id, target.run["status"], target.run["pid"], os.getpid(), this_host()):
        raise HarnessError(f"run {target.run_id} was taken over by another process; see `harness runs list`")
