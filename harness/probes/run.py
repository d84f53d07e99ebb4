"""`harness probe`: make the provider, run its kind's probes, store the results."""

from __future__ import annotations

from dataclasses import asdict

from harness.errors import HarnessError
from harness.paths import default_db
from harness.probes.common import ProbeResult
from harness.profiles import load_profile
from harness.providers.registry import create_provider
from harness.runner import DEFAULT_PROVIDER, EvalOptions, apply_overrides
from harness.store import Store
from harness.store.capabilities import replace_capabilities
from harness.store.writes import record_provider


def probe(options: EvalOptions, max_context: int = 32768) -> list[ProbeResult]:
    """Probe one provider (with the same overrides as `harness eval`) and replace its stored rows."""
    profile = apply_overrides(load_profile(options.provider or DEFAULT_PROVIDER), options)
    if profile.kind not in ("hf", "openai"):
        raise HarnessError(f"probes need an hf or openai provider; '{profile.name}' is {profile.kind}")
    store = Store(options.db or default_db())
    with store.connect() as con:
        digest = record_provider(con, profile)
    provider = create_provider(profile)
    try:
        if profile.kind == "hf":
            from harness.probes.hf_probes import HFProber

            results = HFProber(provider).run()  # type: ignore[arg-type]
        else:
            from harness.probes.openai_probes import OpenAIProber

            results = OpenAIProber(provider, max_context).run()  # type: ignore[arg-type]
    finally:
        close = getattr(provider, "close", None)
        if callable(close):
            close()
    replace_capabilities(store, profile.name, digest, [asdict(r) for r in results])
    return results

