"""The openness registry: shipped profiles carry researched, validated entries; the vocabulary bites."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.openness import Openness, exposure
from harness.config.profiles import load_profile
from harness.errors import HarnessError
from tests.conftest import run_harness

RESEARCHED = ["smollm2", "olmo2", "bloom", "llama", "mistral", "mixtral", "qwen2.5", "gemma3", "gpt-4o", "gpt-4o-mini"]


@pytest.mark.parametrize("name", RESEARCHED)
def test_researched_profiles_have_sourced_openness(name: str) -> None:
    openness = load_profile(name).openness
    assert openness.sources, f"{name} has no sources"
    assert openness.licence != "NOASSERTION"


def test_the_registry_spans_the_three_classes() -> None:
    classes = {name: load_profile(name).openness.class_ for name in RESEARCHED}
    assert classes["olmo2"] == classes["smollm2"] == "open-source"
    assert classes["llama"] == classes["gemma3"] == classes["bloom"] == classes["qwen2.5"] == "open-weight"
    assert classes["gpt-4o"] == classes["gpt-4o-mini"] == "proprietary"
    assert load_profile("olmo2").openness.osaid == "compliant"
    assert {r.kind for r in load_profile("llama").openness.restrictions} >= {"user-cap", "acceptable-use"}


BASE = {"class": "open-weight", "licence": "Apache-2.0", "weights": True, "code": False, "data": False}


@pytest.mark.parametrize(("change", "message"), [
    ({"class": "open-source"}, "needs weights, code and data"),
    ({"licence": "Apache2"}, "not a known SPDX id"),
    ({"class": "proprietary"}, "with published weights"),
    ({"weights": False}, "needs weights = true"),
    ({"osaid": "compliant"}, "applies only to class 'open-source'"),
    ({"restrictions": [{"kind": "vibes", "detail": "x"}]}, "restrictions.0.kind"),
    ({"class": "open-source", "code": True, "data": True, "licence": "LicenseRef-Custom"}, "OSI-approved"),
    ({"class": "open-source", "code": True, "data": True,
      "restrictions": [{"kind": "user-cap", "detail": "700M"}]}, "without use restrictions"),
])
def test_vocabulary_refuses_inconsistent_entries(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Openness.model_validate({**BASE, **change})


def test_a_bad_openness_entry_is_one_line_from_the_cli(profiles: Path) -> None:
    text = (profiles / "smollm2.toml").read_text().replace('licence = "Apache-2.0"', 'licence = "Apache 2"')
    (profiles / "broken.toml").write_text(text)
    with pytest.raises(HarnessError, match="not a known SPDX id"):
        load_profile("broken")
    result = run_harness("providers", "show", "broken")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_exposure_orders_the_classes() -> None:
    proprietary = load_profile("gpt-4o").openness
    llama, mistral, olmo = (load_profile(n).openness for n in ("llama", "mistral", "olmo2"))
    # With the index's grades: 1 - their score, in the order the index puts these models.
    assert exposure(proprietary) == pytest.approx(1 - proprietary.index.score)  # type: ignore[union-attr]
    assert exposure(proprietary) > exposure(llama) > exposure(mistral) > exposure(olmo) > 0
    # Without them, by class and licence terms.
    bare = [o.model_copy(update={"index": None}) for o in (proprietary, llama, mistral, olmo)]
    assert exposure(bare[0]) == 1.0
    assert 0.5 < exposure(bare[1]) < 1.0  # open weights with use restrictions
    assert exposure(bare[2]) == 0.5  # Apache-2.0 weights, no restrictions
    assert exposure(bare[3]) == 0.0
