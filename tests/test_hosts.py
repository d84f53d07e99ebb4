"""The same weights on several hosts (`harness hosts`): each host's noise band from repeated runs
(`harness eval --repeat`), and a host difference called only when it exceeds that noise. Real parts:
loopback OpenAI-compatible servers whose answers vary in known ways, the CLI in child processes, a
DuckDB file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.loopback import server_profile
from tests.checks import one_error_line, query
from tests.conftest import run_harness
from tests.servers import WobblyServer, wobbly_log


class AlternatingServer(WobblyServer):
    """Rewords every answer on every second call of a prompt: its two runs disagree by a lot (a wide
    noise band), though its mean is steady."""

    def answer(self, model: str, prompt: str) -> str:
        with self.lock:
            self.calls[(model, prompt)] += 1
            call = self.calls[(model, prompt)]
        if call % 2:
            return self.canonical(prompt)
        words = list(self.WORDS)
        for i in (1, 2, 6, 7):
            words[i] = ("green", "lake", "new", "barn")[i % 4]
        return f"{prompt.split()[-1]}: " + " ".join(words)


def _ok(*args: str) -> str:
    result = run_harness(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def hosts(profiles: Path, tasks: Path, tmp_path: Path) -> Iterator[Path]:
    """Four hosts of one model: the reference and an exact twin (always the usual answer), a host that
    rewords 40% of its answers, and one that rewords every second call. Each ran the suite twice."""
    servers = {"ref": WobblyServer(share=0.0), "twin": WobblyServer(share=0.0), "noisy": WobblyServer(share=0.4),
               "alternating": AlternatingServer()}
    db = tmp_path / "hosts.duckdb"
    with servers["ref"], servers["twin"], servers["noisy"], servers["alternating"]:
        for name, server in servers.items():
            (profiles / f"{name}.toml").write_text(server_profile(server.base_url, "smol"))
        _ok("traffic", "import", str(wobbly_log(tmp_path / "log.jsonl")), "--name", "sup", "--incumbent", "ref",
            "--db", str(db))
        for name, server in servers.items():
            _ok("eval", "-p", name, "-s", "sup", "--repeat", "2", "--db", str(db))
            assert set(server.calls.values()) == {2}  # each repeat asked the server again: no cache
        yield db


def test_a_host_difference_is_called_only_beyond_the_noise(hosts: Path) -> None:
    shown = json.loads(_ok("hosts", "-p", "ref", "-p", "twin", "-p", "noisy", "-p", "alternating", "-s", "sup",
                           "-f", "json", "--db", str(hosts)))
    rows = {r["provider"]: r for r in shown["rows"]}
    assert rows["ref"]["noise"] == 0.0 and rows["ref"]["score"] == 1.0 and rows["ref"]["runs"] == 2
    assert rows["noisy"]["noise"] > 0.0 and 0.75 < rows["noisy"]["score"] < 0.95
    assert rows["alternating"]["noise"] > 0.3  # one run all usual, the other all reworded
    calls = {d["provider"]: d for d in shown["differences"]}
    assert calls["twin"]["call"] == "no difference shown" and calls["twin"]["gap"] == 0.0
    noisy = calls["noisy"]  # ~16 points lower with a noise band of a few points: a real difference
    assert noisy["call"] == "differs" and noisy["ci_high"] < 0 and abs(noisy["gap"]) > noisy["noise"]
    alternating = calls["alternating"]  # 20 points lower on average, but its own runs differ by 40
    assert alternating["ci_high"] < 0 and alternating["call"] == "within noise"
    table = _ok("hosts", "-p", "ref", "-p", "noisy", "-s", "sup", "--db", str(hosts))
    assert "differs" in table and "noise" in table


def test_one_run_per_host_is_no_noise_band(profiles: Path, tasks: Path, tmp_path: Path) -> None:
    db = tmp_path / "once.duckdb"
    with WobblyServer(share=0.0) as server:
        for name in ("a", "b"):
            (profiles / f"{name}.toml").write_text(server_profile(server.base_url, "smol"))
        _ok("traffic", "import", str(wobbly_log(tmp_path / "log.jsonl")), "--name", "sup", "--incumbent", "a",
            "--db", str(db))
        _ok("eval", "-p", "a", "-s", "sup", "--repeat", "2", "--db", str(db))
        _ok("eval", "-p", "b", "-s", "sup", "--db", str(db))
    refused = run_harness("hosts", "-p", "a", "-p", "b", "-s", "sup", "--db", str(db))
    assert refused.returncode == 2
    assert "harness eval -p b -s sup --repeat 2" in one_error_line(refused)
    alone = run_harness("hosts", "-p", "a", "-s", "sup", "--db", str(db))
    assert alone.returncode == 2 and "two or more" in one_error_line(alone)
    cached = run_harness("eval", "-p", "a", "-s", "sup", "--repeat", "2", "--cache", "--db", str(db))
    assert cached.returncode == 2 and "drop --cache" in one_error_line(cached)
    assert query(db, "select count(*) from runs where provider = 'a' and source is distinct from 'imported'")[0][0] == 2
