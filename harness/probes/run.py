"""`harness probe`: make the provider, run its kind's probes, hand the results to the store."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from harness.config.overrides import Overrides, apply_overrides
from harness.config.profiles import load_profile
from harness.errors import HarnessError
from harness.probes.common import ProbeResult
from harness.providers.registry import close_provider, create_provider
from harness.store import Store
from harness.store.probe_results import replace_capabilities
from harness.store.writes import record_provider


def probe(provider_name: str, overrides: Overrides, db: Path, max_context: int = 32768) -> list[ProbeResult]:
    """Probe one provider (with the same overrides as `harness eval`) and replace its stored rows."""
    profile = apply_overrides(load_profile(provider_name), overrides)
    if profile.kind not in ("hf", "openai"):
        raise HarnessError(f"probes need an hf or openai provider; '{profile.name}' is {profile.kind}")
    store = Store(db)
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
        close_provider(provider)
    replace_capabilities(store, profile.name, digest, [asdict(r) for r in results])
    return results
