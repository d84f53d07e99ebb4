"""Planning a run, in one place, before anything runs: which profile (with overrides) and suite,
how many docs, whether it finishes an unfinished run (and which generations that run already
holds), and which earlier run this one could have resumed instead.

The runner then executes the plan; it never goes back to ask these questions again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.config.lifecycle import lifecycle_warning
from harness.config.overrides import apply_overrides
from harness.config.profiles import Profile, load_profile
from harness.config.suites import Suite, adhoc_suite, load_suite
from harness.errors import HarnessError
from harness.run import resume
from harness.run.reuse import CachePolicy
from harness.store import Store

if TYPE_CHECKING:
    from harness.run.runner import EvalOptions

DEFAULT_PROVIDER, DEFAULT_SUITE = "smollm2", "smoke"
# Options a resumed run takes from its stored row; giving one that disagrees is refused.
_RUN_OPTIONS = ("provider", "suite", "tasks", "limit", "model_path", "batch_size", "base_url", "model",
                "cache", "cache_sampled")


@dataclass
class RunPlan:
    """What a run evaluates and whom it belongs to."""

    profile: Profile
    digest: str  # the profile's content hash, as stored
    suite: Suite
    limit: int | None
    target: resume.ResumeTarget | None = None  # the unfinished run this one finishes
    offer: dict[str, Any] | None = None  # an unfinished run that a new run could resume instead
    cache: CachePolicy = field(default_factory=CachePolicy)  # stored with the run, kept by its resumes
    warnings: list[str] = field(default_factory=list)  # one-line notes, e.g. a retirement within 90 days


def plan_run(options: EvalOptions, store: Store, main: bool = True) -> RunPlan:
    """Resolve the options into a plan (see _resolve); a model past its retirement date is refused
    here, before any request, and one within 90 days of it is warned about. Imported runs (logged
    answers) call no model, so they are not checked."""
    plan = _resolve(options, store, main)
    if not options.imported:
        warning = lifecycle_warning(plan.profile.name, plan.profile.lifecycle)
        if warning:
            plan.warnings.append(warning)
    return plan


def _resolve(options: EvalOptions, store: Store, main: bool) -> RunPlan:
    """Resolve the options into a plan; `--resume RUN_ID` takes everything from the stored run,
    `--resume latest` finds the newest resumable run of the provider and suite (see
    resume.find_latest) and does the same. Only the main process (`main`) looks for an offer: the
    others must not contend for the file."""
    given = {k: getattr(options, k) for k in _RUN_OPTIONS}
    if options.resume:
        run_id = options.resume
        if run_id == "latest":
            run_id = _latest(options, store)
            given.update(provider=None, suite=None)  # they chose the run
        target = resume.load_target(store, run_id, given)
        # The run goes on with the profile it stored (overrides included), not the file as it is now.
        return RunPlan(target.profile, target.profile.content_hash(), target.suite, target.limit, target,
                       cache=target.cache)
    profile = apply_overrides(load_profile(options.provider or DEFAULT_PROVIDER), options.overrides)
    suite = adhoc_suite(options.tasks) if options.tasks else load_suite(options.suite or DEFAULT_SUITE)
    cache = CachePolicy(options.cache is not False, bool(options.cache_sampled))
    plan = RunPlan(profile, profile.content_hash(), suite, options.limit, cache=cache)
    if main:
        plan.offer = resume.find_offer(store, profile.name, plan.digest, suite, options.limit)
    return plan


def _latest(options: EvalOptions, store: Store) -> str:
    """The run id `--resume latest` means for these options, or one line saying there is none."""
    name = options.provider or DEFAULT_PROVIDER
    suite = adhoc_suite(options.tasks) if options.tasks else load_suite(options.suite or DEFAULT_SUITE)
    found = resume.find_latest(store, name, suite)
    if found is None:
        raise HarnessError(f"no interrupted, failed or crashed run of '{name}' on '{suite.suite}' "
                           "to resume; run without --resume")
    return str(found["run_id"])
