"""Every command README.md shows works as shown: run as written, in order, as one user's session.

What counts as a README command (tests/readme_commands.py finds them): each command of a ```sh block
(backslash continuations joined, `# comments` dropped, a trailing `&` runs it in the background), the
first cell of a table row when it is one `harness …`/`make …` code span (the Commands table), and every
inline code span in prose starting with `harness `, `make ` or `.venv/bin/`. An inline span that only
names a command (options without values, or placeholders such as NAME, FILE, RUN_ID) is a `Mention`:
the command and the options it names must exist. Everything else is a `Run`, or an `Exempt` with its
reason and a cheaper check. `COMMANDS` below must hold exactly the README's commands: a new example
cannot slip by untested, and a removed one cannot linger here.

A `Run` is run through bash exactly as written, in a working folder that looks like a checkout
(tests/readme_scenario.py), with only the substitutions it names:
  8080, 8000           a free port: llama.cpp's server started by `make serve-llamacpp`; the loopback API
  RUN_ID, RUN_B, RUN_A the latest complete run of smollm2 on smoke, and the one before it (RUN_A)
  /models/…, /path/to/weights  a folder holding the embedded GGUF (Llama's own weights are no download here)
  make                 `make -o <install stamps>`: a test never installs (no pip, no network)
The user's files (requests.jsonl, labelled.jsonl, prompts.jsonl, spec.yaml and its rows.jsonl, rubric.txt)
are made in the working folder from tests/data and the README's own examples. The common environment
sets the folders (HARNESS_*_DIR in the temp dir), points gpt-4o at a loopback API, gpt-4o-mini and
local-openai at a loopback judge (a dummy OPENAI_API_KEY), and llamacpp at `make serve-llamacpp`'s
server; load tests point llamacpp at a fast streaming loopback server instead (named per command).

The table and the mentions take seconds and are not marked slow, so `make test-fast` already fails on a
README command the table lacks; running every command takes minutes and is.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import stream_server
from bench.loopback import free_port
from tests.conftest import ROOT, run_harness
from tests.readme_commands import command_words, is_mention, options_named, readme_commands
from tests.readme_scenario import README_EXAMPLES, Exempt, Mention, Run, Scenario, crashed_fake_run
from tests.servers import ScriptedServer

# The loopback judge gives every pair a tie and every answer a pass: the plumbing is what is tested.
JUDGE_REPLY = "Both answers serve the request equally well. [[C]]\nGrade: PASS"

LOAD = ("llamacpp at a fast streaming server",)
CORE_RUNS = ("harness eval -p gpt-4o -s core --limit 1", "harness eval -p smollm2 -s core --limit 1",
             "harness eval -p llamacpp -s core --limit 1")  # a doc per task: what core's commands compare
# The drift example's suite: the same requests imported as "nightly", replayed twice as the README
# advises for drift checks (--no-cache: a cached answer cannot drift).
NIGHTLY = ("harness traffic import requests.jsonl --name nightly", "harness eval -p gpt-4o -s nightly --no-cache",
           "harness eval -p gpt-4o -s nightly --no-cache")
SAMPLES = r"(\d+) samples in [\d.]+ s"
BILLS = (r"bill, baseline gpt-4o \(api\): \$[\d,.]+/month", r"bill, candidate smollm2 \(self-hosted\): \$[\d,.]+/month")
REPORT = r'<meta name="generator"'

# README command -> how the test exercises it. Runs go in this order, as one user's session: later
# commands find what earlier ones stored.
COMMANDS: dict[str, Run | Mention | Exempt] = {
    "harness providers list": Run(shows=(r"smollm2", r"gpt-4o-mini", r"llamacpp")),  # all load: exit 0
    "harness providers show smollm2": Run(shows=(r'"model": "HuggingFaceTB/SmolLM2-135M-Instruct"', r"hash")),
    "harness tasks list": Run(shows=(r"smoke_arithmetic", r"pack_gsm8k_cot", r"bfcl_simple")),
    "harness data pull": Run(shows=(r"mmlu: .*mmlu\.jsonl", r"bfcl_simple: ")),
    "harness data pull gsm8k": Run(shows=(r"gsm8k: .*cases\.jsonl",)),
    "harness data list": Run(shows=(r"humaneval .*│ ok",)),
    "make serve-llamacpp PORT=8080 &": Run(shows=(r"SmolLM2-135M-Instruct",), substitute=("make", "8080")),
    "make eval": Run(shows=(SAMPLES, r"smoke_arithmetic"), substitute=("make",)),
    "harness eval --provider smollm2 --suite smoke": Run(shows=(r"72 samples in .* from the cache, 0 provider calls",)),
    "harness eval -p smollm2 --processes 2": Run(shows=(r"72 samples in",)),
    "harness runs agreement RUN_A RUN_B": Run(  # the second answered from the cache: identical
        shows=(r"smoke_strings\s+│\s+24\s+│\s+100\.0% \(24/24\)",), substitute=("RUN_A", "RUN_B")),
    "harness runs show RUN_ID": Run(shows=(r"provider\s+smollm2", r"smoke_choice"), substitute=("RUN_ID",)),
    "harness runs list": Run(shows=(r"smollm2\s+│\s+smoke\s+│\s+complete",)),
    'harness sql "select task, avg(score) from samples group by task"': Run(shows=(r"smoke_choice",)),
    "harness sql \"select r.provider, s.task, avg(s.score) as score, count(*) as n from samples s join runs r "
    "using (run_id) where r.status = 'complete' group by all order by s.task, r.provider\"": Run(
        shows=(r"smollm2\s+│\s+smoke_arithmetic",)),
    "harness eval -p fake -t smoke_choice --limit 5": Run(shows=(r"5 samples in",)),
    "harness eval --resume latest -p fake": Run(shows=(r"72 samples in",), before=(crashed_fake_run,)),
    "harness eval -p local-openai --base-url http://127.0.0.1:8000/v1 --model m": Run(
        shows=(r"72 samples in",), substitute=("8000",)),
    "make eval PROVIDER=local-openai BASE_URL=http://127.0.0.1:8000/v1 MODEL=my-model": Run(
        shows=(r"72 samples in",), substitute=("make", "8000")),
    "make eval PROVIDER=local-openai BASE_URL=http://127.0.0.1:8080/v1 MODEL=smollm2": Run(
        shows=(r"72 samples in",), substitute=("make", "8080")),
    'make eval PROVIDER=llama SUITE=smoke MODEL_PATH=/path/to/weights ARGS="--limit 10"': Run(
        shows=(r"30 samples in",), substitute=("make", "/path/to/weights")),
    "make eval PROVIDER=llama MODEL_PATH=/models/Llama-3.2-1B-Instruct": Run(
        shows=(r"72 samples in .* [1-9]\d* from the cache",), substitute=("make", "/models/Llama-3.2-1B-Instruct")),
    # Offline, lm-eval's own tasks cannot fetch their data: the README promises one line saying so.
    "harness eval -t arc_easy": Run(exit_code=2, shows=(r"\Aerror: [^\n]*cannot be reached \(offline\)[^\n]*\n?\Z",)),
    "harness tasks new support_faq --from prompts.jsonl --metric contains": Run(shows=(r"task 'support_faq' written",)),
    "harness tasks new --spec spec.yaml": Run(shows=(r"task 'phone_numbers' written",)),
    "harness traffic import requests.jsonl --name support --incumbent gpt-4o": Run(
        shows=(r"suite 'support': 5 requests", r"\(imported\)")),
    "harness eval -p smollm2 -s support": Run(shows=(r"5 samples in",)),
    "harness eval -p gpt-4o -s support": Run(shows=(r"5 samples in .* 5 provider calls",)),
    "harness judge pairwise -b gpt-4o -c smollm2 --suite support --judge local-openai": Run(
        shows=(r"local-openai judged smollm2 against gpt-4o: 5 docs \(tie 5\); position consistency 100%",)),
    "harness judge rubric -c smollm2 --suite support --judge gpt-4o-mini --rubric rubric.txt": Run(
        shows=(r"gpt-4o-mini graded smollm2: 5 docs \(pass 5\)",)),
    "harness judge calibrate --judge local-openai --labels labelled.jsonl": Run(
        shows=(r"agreement \d+%, Cohen's kappa 0\.000",)),
    "harness compare -b gpt-4o -c smollm2 --suite support": Run(
        shows=(r"support_text", r"judged by local-openai", r"Cohen's kappa 0\.00 against 12 labelled pairs")),
    "harness report -b gpt-4o -c smollm2 --suite support -o runs/support.html": Run(
        shows=(r"runs/support\.html",), writes=(("runs/support.html", REPORT), ("runs/support.md", r"support_text"),
                                                ("runs/support.pairs.html", r"pairs-data"))),
    "harness browse -b gpt-4o -c smollm2 -s support -o runs/pairs.html": Run(
        shows=(r"\d+ pairs in runs/pairs\.html",),
        # The judge's pairwise verdicts (harness judge pairwise, above) travel with their pairs.
        writes=(("runs/pairs.html", r'<meta name="generator"'), ("runs/pairs.html", r"judge local-openai"),
                ("runs/pairs.html", r"incumbent shown first: (win|tie|loss)"))),
    "harness sql \"select outcome, count(*) from pair_outcomes('gpt-4o', 'smollm2', suite_name := 'support') "
    "group by 1\"": Run(shows=(r"outcome", r"lost|tied|won|both wrong")),
    # The imported answers against the loopback replay: every answer changed, too few docs to call it.
    "harness drift -p gpt-4o -s support --fail-on regression": Run(
        shows=(r"model: gpt-4o-2024-08-06 -> scripted-1 \(changed\)", r"too few documents")),
    "harness drift -p gpt-4o -s nightly --fail-on regression": Run(
        shows=(r"nightly_text .*100%", r"model: scripted-1 -> scripted-1 \(unchanged\)"), before=NIGHTLY),
    "harness probe --provider local-openai --base-url http://127.0.0.1:8080/v1": Run(
        shows=(r"json_mode\s+│\s+pass", r"streaming\s+│\s+pass"), substitute=("8080",)),
    "harness compare --baseline gpt-4o --candidate smollm2 --suite core --margin 0.05": Run(
        shows=(r"OVERALL", r"pack_humaneval"), before=CORE_RUNS),
    # One doc per task decides nothing, so nothing is infeasible: exit 0.
    "harness compare -b gpt-4o -c smollm2 -s core --fail-on infeasible": Run(shows=(r"too few documents",)),
    "harness compare -b gpt-4o -c smollm2 -s core --holm -f json > gap.json": Run(
        shows=(), writes=(("gap.json", r'"p_holm"'), ("gap.json", r'"baseline_wilson"'))),
    "harness risk --incumbent gpt-4o --candidate smollm2 --suite core": Run(
        shows=(r"lock-in risk of gpt-4o", r"smollm2\s+│\s+\d+\.\d")),
    "harness report --baseline gpt-4o --candidate smollm2 --suite core -o runs/review.html": Run(
        shows=(r"runs/review\.html",), writes=(("runs/review.html", REPORT), ("runs/review.md", r"pack_gsm8k_cot"))),
    "harness report -b gpt-4o -c smollm2 -c llamacpp -s core -o runs/review.html": Run(
        shows=(r"runs/review\.html",), writes=(("runs/review.md", r"llamacpp"),)),
    'make report BASELINE=gpt-4o CANDIDATE="smollm2 llamacpp" SUITE=core': Run(
        shows=(r"runs/report\.html",), substitute=("make",),
        writes=(("runs/report.html", REPORT), ("runs/report.md", r"llamacpp"))),
    "harness load -p llamacpp --traffic support --concurrency 1,2,4 --duration 30 --max-requests 200": Run(
        shows=(r"TTFT p50/p95 ms", r"concurrency 4: 200 ok, 0 errors"), env=LOAD),
    "harness load -p llamacpp --traffic support --concurrency 1,2,4,8 --duration 60 --max-requests 200": Run(
        shows=(r"TTFT p50/p95 ms", r"concurrency 8: 200 ok, 0 errors"), env=LOAD),
    "harness compare -b gpt-4o -c smollm2 --suite support --requests-per-day 200000 --serving llamacpp": Run(
        shows=BILLS),
    "harness compare -b gpt-4o -c smollm2 --suite support --serving llamacpp --requests-per-day 200000 "
    "--peak-factor 3 --slo-ttft-ms 1000 --slo-itl-ms 100": Run(
        shows=(*BILLS, r"targets p95 TTFT <= 1000 ms, p95 inter-token <= 100 ms")),
    "harness eval -p smollm2 -s smoke --repeat 2": Run(
        shows=(r"repeat 2 of 2", r"72 samples in [^\n]*; 0 from the cache, \d+ provider calls")),
    "harness eval -p llamacpp -s smoke --repeat 2": Run(
        shows=(r"repeat 2 of 2", r"72 samples in [^\n]*; 0 from the cache, \d+ provider calls")),
    "harness hosts -p smollm2 -p llamacpp -s smoke": Run(
        shows=(r"smoke_choice\s+│\s+llamacpp\s+│\s+2\s+│\s+24", r"smoke_choice\s+│\s+llamacpp\s+│\s+smollm2\s+│\s+24")),
    "harness export --run RUN_ID -o shards/run1": Run(
        shows=(r"exported \S+ to shards/run1: .*generations 72",), substitute=("RUN_ID",),
        writes=(("shards/run1/manifest.json", r"\w"),)),
    "harness merge shards/run1 shards/run2 --db runs/merged.duckdb": Run(
        shows=(r"merged 2 shard\(s\) into runs/merged\.duckdb",), writes=(("runs/merged.duckdb", r""),), before=(
            "harness export --run \"$(harness sql \"select run_id from runs where provider = 'gpt-4o' and "
            "suite = 'core'\" -f csv | tail -1)\" -o shards/run2",)),
    "harness cache stats": Run(shows=(r"smollm2\s+│\s+[1-9]",)),
    "harness cache clear --provider smollm2": Run(shows=(r"cleared [1-9]\d* cached responses of provider 'smollm2'",)),
    # Named, not run: the command and the options named exist (make: the recipe runs what is said).
    "harness eval --repeat": Mention(), "harness hosts": Mention(), "harness browse": Mention(),
    "harness report": Mention(), "harness capture": Mention(),
    "harness eval": Mention(), "harness sql": Mention(), "harness compare": Mention(), "harness load": Mention(),
    "harness probe": Mention(), "harness risk": Mention(), "harness export": Mention(),
    "harness export -o": Mention(), "harness traffic import": Mention(), "harness providers show": Mention(),
    "harness compare -b PROFILE": Mention(), "harness eval -t NAME": Mention(),
    "harness eval --resume RUN_ID": Mention(), "harness judge calibrate --labels FILE": Mention(),
    "harness judge rubric -c SIDE --rubric FILE [--scale pass-fail|1-5]": Mention(),
    "harness tasks new NAME --from prompts.jsonl --metric METRIC": Mention(),
    "make lint": Mention(shows=(r"ruff check", r"mypy", r"lint-imports")),
    "make test-fast": Mention(shows=(r'pytest -m "not slow"',)),
    "make setup": Mention(shows=(r"pip install -q torch==\S+ -r requirements\.lock",)),
    "make lock": Mention(shows=(r"pip freeze", r"> requirements\.lock")),
    "make serve-llamacpp": Mention(shows=(r"-m bench\.llamacpp_server .*SmolLM2-135M-Instruct\.Q4_1\.gguf",)),
    "make llama-server": Mention(shows=(r"--build \S+ --target llama-server", r"\.venv/bin/llama-server")),
    "make llamacpp-python": Mention(shows=(r"llama-cpp-python==", r"requirements-llamacpp\.lock")),
    # Exempt: what no test can run, and the cheaper check instead.
    "make test": Exempt("the whole suite, this test included (CI runs it)", "make -n -B test", (r"-m pytest",)),
    "make clean test": Exempt("deletes the .venv every test runs in", "make -n -B clean test",
                              (r"rm -rf \.venv", r"-m pytest")),
    'make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"': Exempt(
        "downloads CUDA torch (a GPU host's setup)",
        'make -n -B setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"',
        (r"pip install -q torch --index-url https://download\.pytorch\.org/whl/cu124 -r requirements\.lock",)),
    "make eval SUITE=core": Exempt(
        "578 docs on the embedded model: about 15 minutes on 2 cores (CORE_RUNS run core on a doc per task)",
        "make -n -o .venv/.setup-done eval SUITE=core",
        (r"harness data pull\n.*harness eval --provider smollm2 --suite core",)),
    "harness eval -p smollm2 -s tools": Exempt(
        "40 BFCL prompts with their function schemas take the 135M model over 10 minutes on 2 cores; "
        "the same suite through the loopback API instead", "harness eval -p gpt-4o -s tools",
        (r"40 samples in", r"bfcl_parallel_multiple")),
    "make guidellm && .venv/bin/python -m bench.load_peer": Exempt(
        "guidellm installs into its own venv from the network; the benchmark takes minutes",
        "make -n guidellm", (r"pip install -q \"guidellm==",), bench="bench.load_peer"),
    **{f".venv/bin/python -m bench.{name}": Exempt("a benchmark: minutes, never a timed test", bench=f"bench.{name}")
       for name in ("api_throughput", "parity_lm_eval", "sql_scale", "calibration", "cache_rerun", "hf_throughput",
                    "hf_bf16", "hf_decode_step", "hf_llamacpp", "traffic_replay", "llamacpp_load",
                    "constrained_decoding", "browser_scale", "capture_overhead")},
    "harness capture --upstream https://api.openai.com/v1 --port 8099 -o runs/capture": Exempt(
        "a proxy that runs until stopped, in front of a vendor's API: tests/test_capture.py drives it against "
        "a loopback upstream", "harness capture --help", (r"--upstream", r"--sample", r"--redact")),
    ".venv/bin/python -m bench.hf_throughput --sweep": Exempt("a benchmark: minutes", bench="bench.hf_throughput"),
}


def _readme() -> dict[str, str]:
    return {command.key: command.script for command in readme_commands(README_EXAMPLES.read_text())}


def test_the_table_holds_exactly_the_readme_commands() -> None:
    shown, tabled = set(_readme()), set(COMMANDS)
    assert not shown - tabled, f"README commands the test does not exercise: {sorted(shown - tabled)}"
    assert not tabled - shown, f"table entries the README no longer shows: {sorted(tabled - shown)}"
    for key, entry in COMMANDS.items():
        if isinstance(entry, Mention):
            assert is_mention(key), f"{key!r} has concrete arguments: run it, or exempt it with a reason"
        if isinstance(entry, Run):
            assert all(name in key for name in entry.substitute), key


@pytest.mark.parametrize("key", [key for key, entry in COMMANDS.items()
                                 if isinstance(entry, Mention) and key.startswith("harness ")])
def test_a_mentioned_command_and_its_options_exist(key: str) -> None:
    shown = run_harness(*command_words(key), "--help")
    assert shown.returncode == 0, shown.stderr
    for option in options_named(key):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", shown.stdout), f"{key}: no {option}"


@pytest.mark.parametrize("key", [key for key, entry in COMMANDS.items()
                                 if isinstance(entry, Mention) and key.startswith("make ")])
def test_a_mentioned_make_target_runs_what_the_readme_says(key: str) -> None:
    entry = COMMANDS[key]
    assert isinstance(entry, Mention)
    # -n prints the recipe without running it; -B prints it even where the stamps are up to date.
    dry = subprocess.run(["make", "-n", "-B", *key.split()[1:]], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    for pattern in entry.shows:
        assert re.search(pattern, dry.stdout), f"{key}: its recipe does not run {pattern!r}"


@pytest.mark.slow
def test_every_readme_command_works_as_shown(tmp_path: Path, session_cache: Path) -> None:
    scripts = _readme()
    streaming, stream_url = stream_server.start(1, 1, 8)
    try:
        with ScriptedServer() as api, ScriptedServer(reply=JUDGE_REPLY) as judge:
            servers = {"api": api.base_url, "judge": judge.base_url, "stream": stream_url}
            scenario = Scenario(tmp_path, session_cache, servers, free_port())
            try:
                for key, entry in COMMANDS.items():
                    if isinstance(entry, Run):
                        scenario.run(scripts[key], entry)
                    elif isinstance(entry, Exempt) and entry.check:
                        _check_exempt(scenario, key, entry)
                _check_benchmarks(scenario)
            finally:
                scenario.stop()
    finally:
        streaming.terminate()
        streaming.wait()


def _check_exempt(scenario: Scenario, key: str, entry: Exempt) -> None:
    done = scenario.bash(entry.check)
    said = (f"the check of {key!r} ({entry.check!r}) exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    assert done.returncode == 0, said
    for pattern in entry.shows:
        assert re.search(pattern, done.stdout + done.stderr), f"no {pattern!r}: {said}"


# One process imports every benchmark the README lists (torch once): each has a main, and the ones
# with options answer --help.
_BENCH_CHECK = """
import contextlib, importlib, io, sys
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    assert callable(getattr(module, "main", None)), f"{name} has no main()"
    if hasattr(module, "argparse"):
        sys.argv = [name, "--help"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            module.main()
        assert "usage:" in out.getvalue(), f"{name} --help printed no usage"
"""


def _check_benchmarks(scenario: Scenario) -> None:
    modules = sorted({entry.bench for entry in COMMANDS.values() if isinstance(entry, Exempt) and entry.bench})
    done = subprocess.run([sys.executable, "-c", _BENCH_CHECK, *modules], cwd=ROOT, capture_output=True, text=True,
                          env=scenario.environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

