"""Operating discipline: every shipped profile says when its model retires and how open it is in the
index's terms; a retired model is refused before any request, one close to retirement warned about;
the risk score and the report carry lifecycle and drift. Real parts: the CLI, DuckDB, Chromium."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from harness.config.openness import DIMENSIONS
from harness.config.profiles import available_profiles, load_profile
from tests.checks import one_error_line, query
from tests.conftest import run_harness

# Profiles that name no one model: a deterministic stand-in, and a placeholder for whatever you serve.
NO_MODEL = {"fake", "local-openai"}


def test_shipped_profiles_carry_lifecycle_and_the_index_dimensions() -> None:
    checked = 0
    for name in available_profiles():
        if name in NO_MODEL:
            continue
        profile = load_profile(name)
        lifecycle, index = profile.lifecycle, profile.openness.index
        assert lifecycle is not None and lifecycle.source.startswith("https://") and lifecycle.as_of, name
        assert index is not None and tuple(index.dimensions) == DIMENSIONS, name
        assert index.source.startswith("https://") and 0 <= index.score <= 1, name
        checked += 1
    assert checked >= 11
    score = {n: load_profile(n).openness.index.score for n in ("olmo2", "bloom", "llama", "gemma3", "gpt-4o")}
    # What the index is for: OLMo and BLOOMZ near the top, Llama and Gemma open weights and little else.
    assert min(score["olmo2"], score["bloom"]) > 0.8 > 0.4 > max(score["llama"], score["gemma3"]) > score["gpt-4o"]


def _with(profiles: Path, name: str, extra: str, source: str = "fake") -> None:
    (profiles / f"{name}.toml").write_text((profiles / f"{source}.toml").read_text() + "\n" + extra)


def _lifecycle(retirement: date, replacement: str = "fake-next") -> str:
    return (f"[lifecycle]\nreleased = 2024-01-01\ndeprecation_announced = {date.today() - timedelta(days=100)}\n"
            f"retirement = {retirement}\nreplacement = \"{replacement}\"\n"
            f"source = \"https://example.com/deprecations\"\nas_of = {date.today()}\n")


BAD = {
    "a grade that is not open, partial or closed": ("datasources_basemodel = { grade = \"closed\"",
                                                    "datasources_basemodel = { grade = \"mostly\"",
                                                    r"grade.*'open', 'partial' or 'closed'"),
    "a dimension missing": ("paper = { grade = \"closed\", note = \"No peer-reviewed paper.\" }\n", "\n",
                            r"openness dimension 'paper' is missing"),
    "an unknown dimension": ("[openness.index.dimensions]\n",
                             "[openness.index.dimensions]\nvibes = { grade = \"open\" }\n",
                             r"unknown openness dimension 'vibes'"),
    "retirement before release": ("released = 2024-05-13", "released = 2027-05-13",
                                  r"deprecation_announced 2026-10-14 is before the release date"),
    "a source that is not a URL": ("source = \"https://developers.openai.com/api/docs/deprecations\"",
                                   "source = \"the vendor told us\"", r"lifecycle.source.*pattern"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_lifecycle_and_openness_are_one_line(case: str, profiles: Path) -> None:
    old, new, pattern = BAD[case]
    text = (profiles / "gpt-4o.toml").read_text()
    assert old in text, case
    (profiles / "broken.toml").write_text(text.replace(old, new, 1))
    result = run_harness("providers", "show", "broken", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert result.returncode == 2
    assert re.search(pattern, one_error_line(result)), result.stderr


def test_a_retired_model_is_refused_before_any_request(profiles: Path, isolated_runs: Path) -> None:
    _with(profiles, "retired", _lifecycle(date.today() - timedelta(days=1)))
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    result = run_harness("eval", "-p", "retired", "--db", str(isolated_runs / "l.duckdb"), env=env)
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"retired on {date.today() - timedelta(days=1)}" in line and "the vendor recommends fake-next" in line
    assert not (isolated_runs / "l.duckdb").exists() or query(isolated_runs / "l.duckdb",
                                                             "select count(*) from runs") == [(0,)]
    _with(profiles, "retiring", _lifecycle(date.today() + timedelta(days=30)))
    warned = run_harness("eval", "-p", "retiring", "--db", str(isolated_runs / "l.duckdb"), env=env)
    assert warned.returncode == 0, warned.stderr
    assert f"warning: provider 'retiring': the model retires on {date.today() + timedelta(days=30)}, in 30 days; " \
           "the vendor recommends fake-next" in warned.stderr
    shown = json.loads(run_harness("providers", "show", "retiring", env=env).stdout)
    assert shown["days_to_retirement"] == 30 and shown["lifecycle"]["replacement"] == "fake-next"
    assert json.loads(run_harness("providers", "show", "olmo2").stdout)["openness_index_score"] == pytest.approx(
        0.857, abs=1e-3)


def test_risk_and_report_carry_lifecycle_drift_and_the_dimensions(fake_runs: dict[str, Path], tmp_path: Path,
                                                                  profiles: Path) -> None:
    from tests.test_report import check_in_browser

    db = tmp_path / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    env = {"HARNESS_PROVIDERS_DIR": str(profiles)}
    # The incumbent, as shipped but retiring in 73 days and graded like BLOOMZ; run twice and drift-checked.
    index = (profiles / "bloom.toml").read_text().split("[openness.index]", 1)[1].split("\n# Lifecycle", 1)[0]
    _with(profiles, "incumbent", f"[openness.index]{index}\n" + _lifecycle(date.today() + timedelta(days=73)))
    for _ in range(2):
        assert run_harness("eval", "-p", "incumbent", "--db", str(db), env=env).returncode == 0
    assert run_harness("drift", "-p", "incumbent", "-s", "smoke", "--db", str(db), env=env).returncode == 0
    risk = run_harness("risk", "-i", "incumbent", "-c", "fake2", "-f", "json", "--db", str(db), env=env)
    assert risk.returncode == 0, risk.stderr
    parts = json.loads(risk.stdout)[0]
    assert parts["retirement"] == pytest.approx(0.8) and parts["drift"] == 0.0
    assert parts["openness"] == pytest.approx(1 - load_profile("bloom").openness.index.score)
    out = tmp_path / "review.html"
    made = run_harness("report", "-b", "incumbent", "-c", "fake2", "-o", str(out), "--db", str(db), env=env)
    assert made.returncode == 0, made.stderr
    dom = check_in_browser(out, tmp_path)
    openness = dom.split('id="openness"', 1)[1].split("</section>", 1)[0]
    assert "hardware_architecture" in openness and "0.821" in openness and ">73<" in openness
    drift = dom.split('id="drift"', 1)[1].split("</section>", 1)[0]
    assert drift.count("no significant change") == 3 and "incumbent" in drift
    risk_section = dom.split('id="risk"', 1)[1].split("</section>", 1)[0]
    assert "retirement (w 0.10)" in risk_section and "drift (w 0.10)" in risk_section
