"""The bad-input matrix: every way a user can hand the CLI something wrong, one case each.

Each case runs the real CLI in a child process and must give exactly one `error: ...` line on
stderr, exit code 2 (130 for Ctrl-C), and leave nothing half-written: the database it touched still
opens, holds no run left 'running', and a file that was not ours to change is byte-for-byte intact.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.checks import assert_sound, execute, obey_file_modes, one_error_line, query
from tests.conftest import ROOT, run_harness, start_harness

OPENNESS = '[openness]\nclass = "open-source"\nlicence = "MIT"\nweights = true\ncode = true\ndata = true\n'
OPENAI = ('kind = "openai"\nmodel = "m"\nbase_url = "{url}"\n{extra}\n'
          '[openness]\nclass = "proprietary"\nlicence = "proprietary"\nweights = false\ncode = false\ndata = false\n')


@dataclass
class World:
    """One case's surroundings: a temp folder, the default runs folder, extra env, and the database
    the command touches (checked afterwards)."""

    tmp: Path
    runs: Path
    seed: Path
    env: dict[str, str] = field(default_factory=dict)
    db: Path | None = None
    frozen: str | None = None  # sha256 the database file must still have afterwards
    popen: dict = field(default_factory=dict)
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def copy(self, name: str) -> Path:
        """A writable copy of the shipped `providers/` or `tasks/`, used by the command."""
        folder = self.tmp / name
        if not folder.exists():
            shutil.copytree(ROOT / name, folder)
        self.env[{"providers": "HARNESS_PROVIDERS_DIR", "tasks": "HARNESS_TASKS_DIR"}[name]] = str(folder)
        return folder

    def seeded(self) -> str:
        """Put a database holding one complete fake run where the CLI looks by default; return its run id."""
        self.runs.mkdir(parents=True, exist_ok=True)
        self.db = self.runs / "harness.duckdb"
        shutil.copy(self.seed, self.db)
        return str(query(self.db, "select run_id from runs")[0][0])

    def interrupted(self) -> str:
        run_id = self.seeded()
        assert self.db is not None
        execute(self.db, "update runs set status = 'interrupted' where run_id = ?", params=[run_id])
        return run_id

    def freeze(self) -> None:
        assert self.db is not None
        self.frozen = _sha(self.db)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _profile(w: World, text: str) -> None:
    (w.copy("providers") / "broken.toml").write_text(text)


def _suite(w: World, text: str) -> None:
    (w.copy("tasks") / "badsuite.yaml").write_text(text)


def _task_folder(w: World, yaml_text: str) -> str:
    folder = w.tmp / "extra"
    folder.mkdir()
    data = w.tmp / "qa.jsonl"
    data.write_text('{"q": "Say A", "a": "A", "choices": ["A", "B"], "label": 0}\n' * 3)
    (folder / "extra_task.yaml").write_text(yaml_text.format(data=data))
    return str(folder)


_GEN_TASK = ("task: extra_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
             "test_split: test\ndoc_to_text: '{{{{q}}}}'\ndoc_to_target: '{{{{a}}}}'\n"
             "metric_list:\n  - metric: exact_match\n")


def _live_owner(w: World) -> str:
    """A run marked 'running' by a process that is alive (a stand-in whose command line names us)."""
    run_id = w.seeded()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "harness"])
    w.cleanup.append(lambda: (owner.kill(), owner.wait()))
    assert w.db is not None
    execute(w.db, "update runs set status = 'running', pid = ? where run_id = ?", params=[owner.pid, run_id])
    w.freeze()  # the live run's row must stay exactly as it is
    return run_id


def _unwritable(w: World) -> None:
    """A database file (and folder) the command may read but not write."""
    folder = w.tmp / "readonly"
    folder.mkdir()
    w.db = folder / "h.duckdb"
    shutil.copy(w.seed, w.db)
    w.db.chmod(0o444)
    folder.chmod(0o555)
    w.cleanup.append(lambda: folder.chmod(0o755))
    if os.geteuid() == 0:
        probe = subprocess.run([sys.executable, "-c", ""], preexec_fn=obey_file_modes)
        if probe.returncode != 0:
            pytest.skip("running as root without the right to drop CAP_DAC_OVERRIDE")
        w.popen["preexec_fn"] = obey_file_modes
    w.freeze()


def _file_size_limit(w: World, limit: int) -> None:
    """Make every file the command writes stop growing at `limit` bytes, as on a full disk (the write
    fails with EFBIG instead of the process being killed by SIGXFSZ)."""
    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    w.popen["preexec_fn"] = limit_files
    w.db = w.tmp / "full.duckdb"


Args = Callable[[World], list[str]]


def _after(prepare: Callable[[World], object] | None, *args: str) -> Args:
    """The command's arguments once `prepare` has set the world up; `{tmp}`, `{db}` and `{got}`
    (what `prepare` returned, e.g. a run id) are filled in."""
    def make(w: World) -> list[str]:
        got = prepare(w) if prepare else None
        return [a.format(tmp=w.tmp, db=w.db, got=got) for a in args]
    return make


def _static(*args: str) -> Args:
    return _after(None, *args)


def _not_duckdb(w: World) -> None:
    w.db = w.tmp / "notes.duckdb"
    w.db.write_text("notes\n" * 500)
    w.freeze()


def _newer_schema(w: World) -> None:
    w.seeded()
    assert w.db is not None
    execute(w.db, "insert into schema_migrations (id, name) values (99, '0099_future')")
    w.freeze()


def _jsonl(w: World, content: bytes, taken: bool = False) -> None:
    tasks = w.copy("tasks")
    if taken:
        (tasks / "custom" / "faq").mkdir(parents=True)
    (w.tmp / "rows.jsonl").write_bytes(content)


def _spec(w: World, content: bytes) -> None:
    w.copy("tasks")
    (w.tmp / "spec.yaml").write_bytes(content)


def _runs_under_a_file(w: World) -> None:
    (w.tmp / "blocker").write_text("a file, not a folder")
    w.env["HARNESS_RUNS_DIR"] = str(w.tmp / "blocker" / "runs")


EVAL_BROKEN = ("eval", "-p", "broken")
EVAL_BADSUITE = ("eval", "-p", "fake", "-s", "badsuite")
EXTRA_TASK = ("eval", "-p", "fake", "-t", "extra_task", "--include-path", "{got}")
NEW_FAQ = ("tasks", "new", "faq", "--from", "{tmp}/rows.jsonl")

# name -> (the command, set up first where needed; the pattern its one error line must match)
CASES: dict[str, tuple[Args, str]] = {
    # Command-line arguments
    "unknown provider": (_static("eval", "-p", "nope"), "unknown provider 'nope'"),
    "unknown suite": (_static("eval", "-p", "fake", "-s", "nope"), "unknown suite 'nope'"),
    "unknown task": (_static("eval", "-p", "fake", "-t", "no_such_task"), "unknown task 'no_such_task'"),
    "limit below 1": (_static("eval", "-p", "fake", "--limit", "0"), r"'--limit'.*see `harness eval --help`"),
    "unknown option": (_static("eval", "--bogus"), "No such option: --bogus"),
    "missing argument": (_static("sql"), "Missing argument 'query'"),
    "unknown command": (_static("runs", "nope"), "No such command 'nope'"),
    "unknown output format": (_static("sql", "select 1", "--format", "xml"), "unknown format 'xml'"),
    "SQL error": (_after(World.seeded, "sql", "select * from nowhere"), "SQL error"),
    "SQL that writes": (_after(World.seeded, "sql", "drop table samples"), "SQL error"),
    "no database yet": (_static("runs", "show", "nope"), "no database"),
    "unknown run": (_after(World.seeded, "runs", "show", "nope"), "no run 'nope'"),
    "hub task offline": (_static("eval", "-p", "fake", "-t", "gsm8k", "--limit", "2"),
                         "need their data from the Hugging Face hub"),
    "openai flag on a fake profile": (_static("eval", "-p", "fake", "--base-url", "http://127.0.0.1:9/v1"),
                                      "apply to openai profiles"),
    "model path missing": (_static("eval", "-p", "llama", "--model-path", "{tmp}/nowhere"), "does not exist"),
    "cache clear without a database": (_static("cache", "clear"), "no database"),
    # Resume
    "resume an unknown run": (_after(World.seeded, "eval", "--resume", "nope"), "no run 'nope'"),
    "resume a complete run": (_after(World.seeded, "eval", "--resume", "{got}"), "is complete; nothing to resume"),
    "resume latest with none unfinished": (_after(World.seeded, "eval", "--resume", "latest", "-p", "fake"),
                                           "no interrupted, failed or crashed run of 'fake'"),
    "resume with another provider": (_after(World.interrupted, "eval", "--resume", "{got}", "-p", "smollm2"),
                                     "ran with --provider fake, not --provider smollm2"),
    "resume with an override": (_after(World.interrupted, "eval", "--resume", "{got}", "--batch-size", "2"),
                                "--batch-size does not apply to run .* keeps its own settings"),
    "resume a run that is still going": (_after(_live_owner, "eval", "--resume", "{got}"), "is still running"),
    # Provider profiles
    "profile unknown key": (_after(lambda w: _profile(w, 'kind = "fake"\nmodel = "m"\nbogus = 1\n' + OPENNESS),
                                   *EVAL_BROKEN), "bogus: unknown key"),
    "profile wrong type": (_after(lambda w: _profile(w, 'kind = "fake"\nmodel = "m"\n[fake]\ndelay_ms = "slow"\n'
                                                     + OPENNESS), *EVAL_BROKEN), "fake.delay_ms"),
    "profile bad TOML": (_after(lambda w: _profile(w, 'kind = "fake"\nmodel = [\n'), *EVAL_BROKEN), "bad TOML"),
    "profile unknown kind": (_after(lambda w: _profile(w, 'kind = "martian"\nmodel = "m"\n' + OPENNESS),
                                    *EVAL_BROKEN), "unknown provider kind 'martian'"),
    "profile base_url with credentials": (
        _after(lambda w: _profile(w, OPENAI.format(url="http://user:s3cret@127.0.0.1:9/v1", extra="")), *EVAL_BROKEN),
        "must not carry credentials"),
    "profile key variable unset": (
        _after(lambda w: _profile(w, OPENAI.format(url="http://127.0.0.1:9/v1", extra='api_key_env = "LOCKIN_UNSET"')),
               *EVAL_BROKEN), "needs an API key: set LOCKIN_UNSET"),
    # Suites
    "suite bad YAML": (_after(lambda w: _suite(w, "tasks: [\n"), *EVAL_BADSUITE), "bad YAML"),
    "suite unknown key": (_after(lambda w: _suite(w, "tasks:\n  - task: smoke_choice\ncolour: red\n"), *EVAL_BADSUITE),
                          "colour: unknown key"),
    "suite lists a task twice": (
        _after(lambda w: _suite(w, "tasks:\n  - task: smoke_choice\n  - task: smoke_choice\n"), *EVAL_BADSUITE),
        "listed twice: smoke_choice"),
    "suite names an unknown task": (_after(lambda w: _suite(w, "tasks:\n  - task: nope_task\n"), *EVAL_BADSUITE),
                                    "unknown task 'nope_task'"),
    # Task YAML
    "task YAML without its data": (
        _after(lambda w: _task_folder(w, _GEN_TASK.replace("{data}", "{data}.missing")
                                      + "output_type: generate_until\n"), *EXTRA_TASK),
        "cannot load tasks extra_task"),
    "task YAML scoring log-likelihoods": (
        _after(lambda w: _task_folder(w, _GEN_TASK.replace("'{{{{a}}}}'", "label")
                                      + "output_type: multiple_choice\ndoc_to_choice: choices\n"), *EXTRA_TASK),
        "scores log-likelihoods"),
    "task folder missing": (_static("eval", "-p", "fake", "-t", "smoke_choice", "--include-path", "{tmp}/nope"),
                            "task folder .* does not exist"),
    # Custom tasks from JSONL
    "JSONL file missing": (_static(*NEW_FAQ), "cannot read"),
    "JSONL empty": (_after(lambda w: _jsonl(w, b"\n"), *NEW_FAQ), "no rows"),
    "JSONL not UTF-8": (_after(lambda w: _jsonl(w, b'{"input": "a", "reference": "b"}\n{"input": "\xff\xfe"}\n'),
                               *NEW_FAQ), r"line 2 is not UTF-8 text \(byte 0xff at column 12\)"),
    "spec not UTF-8": (_after(lambda w: _spec(w, b"task: faq\ndata: r\xe9sum\xe9.jsonl\n"), "tasks", "new", "--spec",
                              "{tmp}/spec.yaml"), r"spec.yaml: line 2 is not UTF-8 text \(byte 0xe9 at column 8\)"),
    "JSONL task name taken": (_after(lambda w: _jsonl(w, b'{"input": "a", "reference": "b"}\n', taken=True),
                                     *NEW_FAQ), "already exists; pass --force"),
    # The database path
    "database is a directory": (_static("eval", "-p", "fake", "--db", "{tmp}"), "is a directory"),
    "database is not DuckDB": (_after(_not_duckdb, "eval", "-p", "fake", "--db", "{db}"), "is not a DuckDB database"),
    "database from a newer harness": (_after(_newer_schema, "eval", "-p", "fake"),
                                      "0099_future.*upgrade lockin-harness"),
    "database not writable": (_after(_unwritable, "eval", "-p", "fake", "--db", "{db}"), "permission denied"),
    "runs folder under a file": (_after(_runs_under_a_file, "eval", "-p", "fake"), "cannot create folder"),
    "runs folder in sysfs": (_after(lambda w: w.env.update(HARNESS_RUNS_DIR="/sys/lockin-harness-runs"),
                                    "eval", "-p", "fake"), "cannot create folder"),
    # A full disk (a per-process file-size limit)
    "disk full creating the database": (_after(lambda w: _file_size_limit(w, 5_000), "eval", "-p", "fake",
                                               "--db", "{db}"), "the disk is full"),
    "disk full during a run": (_after(lambda w: _file_size_limit(w, 30_000), "eval", "-p", "fake", "--no-cache",
                                      "--db", "{db}"), "the disk is full"),
}


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one complete fake run, copied by the cases that need one."""
    db = tmp_path_factory.mktemp("seed") / "seed.duckdb"
    result = run_harness("eval", "-p", "fake", "-t", "smoke_choice", "--limit", "3", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def world(tmp_path: Path, isolated_runs: Path, seed: Path) -> Iterator[World]:
    w = World(tmp=tmp_path / "case", runs=isolated_runs, seed=seed)
    w.tmp.mkdir()
    yield w
    for undo in reversed(w.cleanup):
        undo()


def test_the_matrix_is_broad() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(world: World, name: str) -> None:
    check_case(world, *CASES[name])


def check_case(world: World, make_args: Args, pattern: str) -> None:
    """Exit 2, one error line matching `pattern`, no secret echoed, and the database untouched
    (frozen), or sound, or never half-made."""
    args = make_args(world)
    db = world.db if world.db is not None else world.runs / "harness.duckdb"
    result = run_harness(*args, env=world.env, timeout=300, **world.popen)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    line = one_error_line(result)
    assert re.search(pattern, line), line
    assert "s3cret" not in result.stderr + result.stdout
    if world.frozen is not None:
        assert _sha(db) == world.frozen, "a file that was not ours to change was changed"
    elif db.is_file():
        assert_sound(db)
    else:
        assert not db.with_name(db.name + ".wal").exists(), "a half-made database was left behind"


def test_ctrl_c_during_an_eval(tmp_path: Path, isolated_runs: Path, profiles: Path) -> None:
    """SIGINT mid-run: exit 130, one line naming the run and how to finish it, the run 'interrupted',
    its finished generations stored, and the database sound."""
    text = (profiles / "fake.toml").read_text().replace("[fake]", "[fake]\ndelay_ms = 60")
    (profiles / "slow.toml").write_text(text)
    db = isolated_runs / "harness.duckdb"
    proc = start_harness("eval", "-p", "slow", env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    try:
        deadline = time.monotonic() + 120
        while not (db.exists() and query(db, "select count(*) from generations")[0][0] >= 5):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert result.returncode == 130, stderr
    line = one_error_line(result)
    run_id = query(db, "select run_id from runs")[0][0]
    assert re.search(rf"run {run_id} interrupted; \d+ finished generations are stored; .*--resume {run_id}", line)
    stored = int(re.search(r"(\d+) finished", line).group(1))  # type: ignore[union-attr]
    assert query(db, "select status, error from runs") == [("interrupted", "interrupted by the user")]
    assert query(db, "select count(*) from generations")[0][0] == stored
    assert 5 <= stored < 72
    assert_sound(db)
