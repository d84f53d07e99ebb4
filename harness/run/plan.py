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
from harness.store import Store

if TYPE_CHECKING:
    from harness.run.runner import EvalOptions

DEFAULT_PROVIDER, DEFAULT_SUITE = "smollm2", "smoke"
# Options a resumed run takes from its stored row; giving one that disagrees is refused.
_RUN_OPTIONS = ("provider", "suite", "tasks", "limit", "model_path", "batch_size", "base_url", "model")


@dataclass
class RunPlan:
    """What a run evaluates and whom it belongs to."""

    profile: Profile
    digest: str  # the profile's content hash, as stored
    suite: Suite
    limit: int | None
    target: resume.ResumeTarget | None = None  # the unfinished run this one finishes
    offer: dict[str, Any] | None = None  # an unfinished run that a new run could resume instead
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
    `--resume latest` finds the newest unfinished run of the same profile, suite and limit.
    Only the main process (`main`) looks for an offer: the others must not contend for the file."""
    if options.resume and options.resume != "latest":
        given = {k: getattr(options, k) for k in _RUN_OPTIONS if getattr(options, k)}
        target = resume.load_target(store, options.resume, given)
        return RunPlan(target.profile, target.profile.content_hash(), target.suite, target.limit, target)
    profile = apply_overrides(load_profile(options.provider or DEFAULT_PROVIDER), options.overrides)
    suite = adhoc_suite(options.tasks) if options.tasks else load_suite(options.suite or DEFAULT_SUITE)
    plan = RunPlan(profile, profile.content_hash(), suite, options.limit)
    if options.resume != "latest" and not main:
        return plan
    # `--resume latest -p NAME` finds a run however its profile was overridden (a run started with
    # --base-url/--model); overrides given again must match the run's profile exactly.
    any_profile = options.resume == "latest" and not options.overrides.given()
    offer = resume.find_offer(store, profile.name, None if any_profile else plan.digest, suite, options.limit)
    if options.resume == "latest":
        if offer is None:
            raise HarnessError(f"no interrupted, failed or crashed run of '{profile.name}' on '{suite.suite}' "
                               "with stored generations to resume; run without --resume")
        target = resume.load_target(store, offer["run_id"], {})
        # The run goes on with the profile it stored (overrides included), not the file as it is now.
        return RunPlan(target.profile, target.profile.content_hash(), target.suite, target.limit, target)
    else:
        plan.offer = offer
    return plan
