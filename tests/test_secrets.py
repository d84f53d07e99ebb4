"""Keys never persist and are never echoed: a key pasted into any profile field is refused before
anything is stored or printed; a key a server echoes in a successful answer is removed before the
answer is stored or cached; short `sk-` keys are caught in traffic; an empty name option is refused.
Real parts: the CLI in child processes, DuckDB files, a loopback server through the openai SDK."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import duckdb
import pytest

from harness.config.secrets import REMOVED, scrub_secrets
from harness.traffic.read import read_traffic
from tests.checks import one_error_line, query
from tests.conftest import ROOT, run_harness
from tests.servers import ScriptedServer
from tests.test_api_eval import write_profile

OPENNESS = '[openness]\nclass = "proprietary"\nlicence = "proprietary"\nweights = false\ncode = false\ndata = false\n'
LIFECYCLE = '[lifecycle]\nreleased = 2024-05-13\nsource = "https://example.com/models"\nas_of = 2025-01-01\n'


def _profile(kind: str = "openai", top: str = "", section: str = "", openness: str = "", lifecycle: str = "",
             pricing: str = "") -> str:
    """A valid profile of `kind`, with extra lines in its top level and in each section."""
    head = f'kind = "{kind}"\nmodel = "m"\n' + ('base_url = "http://127.0.0.1:9/v1"\n' if kind == "openai" else "")
    return (f"{head}{top}\n[{kind}]\n{section}\n{OPENNESS}{openness}\n{LIFECYCLE}{lifecycle}\n"
            f"[pricing]\ninput_usd_per_mtok = 1.0\n{pricing}\n")


# Every free-text field of a profile, with the key pasted into it ({c}: the canary).
FIELDS = {
    "api_key_env": _profile(top='api_key_env = "{c}"'),
    "description": _profile(top='description = "our key is {c}"'),
    "revision": _profile(top='revision = "{c}"'),
    "model": _profile().replace('model = "m"', 'model = "{c}"'),
    "base_url": _profile().replace("/v1", "/v1/{c}"),
    "capabilities key": _profile(top='capabilities = {{ "{c}" = true }}'),
    "openness.sources": _profile(openness='sources = ["https://example.com/?k={c}"]'),
    "openness.restrictions": _profile(openness='restrictions = [{{ kind = "attribution", detail = "{c}" }}]'),
    "lifecycle.note": _profile(lifecycle='note = "{c}"'),
    "lifecycle.replacement": _profile(lifecycle='replacement = "{c}"'),
    "pricing.as_of (a wrong type, whose error would echo it)": _profile(pricing='as_of = "{c}"'),
    "openai.organization": _profile(section='organization = "{c}"'),
    "openai.project": _profile(section='project = "{c}"'),
    "openai.base_url_env": _profile(section='base_url_env = "{c}"'),
    "openai.model_env": _profile(section='model_env = "{c}"'),
    "openai.extra_body": _profile(section='extra_body = {{ top_k = "{c}" }}'),
    "openai.extra_body key": _profile(section='extra_body = {{ "{c}" = 1 }}'),
    "hf.model_path": _profile("hf", section='model_path = "/models/{c}"'),
    "hf.local_path_env": _profile("hf", section='local_path_env = "{c}"'),
    "fake.replies": _profile("fake", section='replies = ["A", "{c}"]'),
}


def _canary() -> str:
    return "sk-canary" + secrets.token_hex(12)


def _nothing_kept(canary: str, runs: Path) -> None:
    """The canary is in no file under the runs folder (the database included, if one was made)."""
    for path in (p for p in runs.rglob("*") if p.is_file()):
        assert canary.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("field", FIELDS)
def test_a_key_in_any_profile_field_is_refused_unechoed(profiles: Path, isolated_runs: Path, field: str) -> None:
    canary = _canary()
    (profiles / "pasted.toml").write_text(FIELDS[field].format(c=canary))
    for command in (("eval", "-p", "pasted", "-s", "smoke"), ("providers", "show", "pasted")):
        result = run_harness(*command, env={"LOCKIN_CANARY_KEY": "unused"})
        assert result.returncode == 2, (command, result.stdout[-500:], result.stderr[-1500:])
        line = one_error_line(result)
        assert "pasted.toml" in line and ("looks like a credential" in line or "looks like a key" in line), line
        assert canary not in result.stdout + result.stderr
    # `providers list` lists the good profiles and marks the bad one (exit 1), never showing the key.
    listed = run_harness("providers", "list", "--format", "json", env={"LOCKIN_CANARY_KEY": "unused"})
    assert listed.returncode == 1 and "pasted" in listed.stderr, listed.stderr[-1500:]
    problems = [row for row in json.loads(listed.stdout) if row.get("problem")]
    assert [row["name"] for row in problems] == ["pasted"]
    assert "looks like a credential" in problems[0]["problem"] or "looks like a key" in problems[0]["problem"]
    assert canary not in listed.stdout + listed.stderr
    assert not any(isolated_runs.rglob("*.duckdb"))  # nothing stored, not even an empty database
    _nothing_kept(canary, isolated_runs)


def test_a_key_as_api_key_env_is_named_as_the_mistake(profiles: Path, isolated_runs: Path) -> None:
    canary = _canary()
    (profiles / "x.toml").write_text(FIELDS["api_key_env"].format(c=canary))
    line = one_error_line(run_harness("eval", "-p", "x"))
    assert line.endswith("x.toml looks like a key, not a variable name; put the key in an environment variable "
                         "and name that variable") and line.startswith("error: api_key_env in ")


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "my_key2", "_K"])
def test_variable_names_and_ordinary_words_still_load(profiles: Path, name: str) -> None:
    (profiles / "fine.toml").write_text(_profile(top=f'api_key_env = "{name}"\n'
                                                     'description = "like sk-learn, for sk-image tasks"'))
    shown = run_harness("providers", "show", "fine")
    assert shown.returncode == 0, shown.stderr
    assert name in shown.stdout


def test_an_override_that_is_a_key_is_refused(profiles: Path, isolated_runs: Path) -> None:
    canary = _canary()
    write_profile(profiles, "moved", "http://127.0.0.1:9/v1")
    result = run_harness("eval", "-p", "moved", "--model", canary)
    assert "model in provider 'moved'" in one_error_line(result) and canary not in result.stdout + result.stderr
    assert result.returncode == 2 and not any(isolated_runs.rglob("*.duckdb"))


def test_a_key_echoed_in_successful_answers_is_removed_everywhere(profiles: Path, tasks: Path,
                                                                   isolated_runs: Path) -> None:
    """The server puts the key in every 200 answer's text, tool-call arguments, model and fingerprint."""
    canary = "sk-canary-" + secrets.token_hex(16)
    imported = run_harness("traffic", "import", str(ROOT / "tests" / "data" / "traffic" / "plain.jsonl"),
                           "--name", "echoes")
    assert imported.returncode == 0, imported.stderr[-1500:]
    env = {"LOCKIN_CANARY_KEY": canary}
    with ScriptedServer(echo_key=True) as server:
        write_profile(profiles, "echoer", server.base_url, key_env="LOCKIN_CANARY_KEY")
        outputs = [run_harness("--debug", "eval", "-p", "echoer", "-s", "echoes", env=env)]
    for result in outputs:
        assert result.returncode == 0, result.stderr[-2000:]
    outputs.append(run_harness("sql", "select * from generations", "-f", "json"))
    assert f"Bearer {canary}" in server.auth_headers  # the key was really sent, and echoed
    db = isolated_runs / "harness.duckdb"
    rows = query(db, "select response, tool_calls, model_reported, fingerprint from generations where error is null")
    assert rows and all(REMOVED in (model or "") and REMOVED in (print_ or "") for _, _, model, print_ in rows)
    assert any(REMOVED in text for text, *_ in rows)  # the answer shows the marker where the key was
    calls = [json.loads(c) for _, c, _, _ in rows if c]
    assert calls and all(REMOVED in call["arguments"] for row in calls for call in row)
    assert query(db, "select count(*) from response_cache")[0][0] > 0
    con = duckdb.connect(str(db), read_only=True)
    try:  # every table, every column, as text (the file's bytes may be compressed)
        tables = [t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_type = 'BASE TABLE'").fetchall()]
        assert {"generations", "samples", "response_cache"} <= set(tables)
        for table in tables:
            assert canary not in repr(con.execute(f'select * from "{table}"').fetchall()), table
    finally:
        con.close()
    assert all(canary not in r.stdout + r.stderr for r in outputs)
    _nothing_kept(canary, isolated_runs)
    assert not [p for p in tasks.rglob("*") if p.is_file() and canary.encode() in p.read_bytes()]


@pytest.mark.parametrize(("text", "kept"), [
    ("my key is sk-1234", False),  # a local proxy's default master key
    ("key=sk-ab12cd", False),
    ("sk-9", False),
    ("token sk-proj-Ab3dEf", False),
    ("we use sk-learn and sk-image", True),  # words, not keys: no digit
    ("the task-1234 and risk-2 are fine", True),  # "sk-" inside a word
    ("SK-1 is a product code", True),  # keys are lower-case sk-
])
def test_short_sk_keys_are_caught_words_are_not(text: str, kept: bool) -> None:
    cleaned, found = scrub_secrets({"content": text})
    assert (cleaned["content"] == text and found == 0) if kept else (found == 1 and REMOVED in cleaned["content"])


def test_short_keys_leave_imported_traffic(tmp_path: Path) -> None:
    source = tmp_path / "plain.jsonl"
    source.write_text(json.dumps({"messages": [{"role": "user", "content": "proxy key sk-7f3a9 for sk-learn"}]}) + "\n")
    traffic = read_traffic(source)
    assert traffic.credentials_removed == 1
    assert json.dumps(traffic.records[0].request).count("sk-7f3a9") == 0
    assert "sk-learn" in json.dumps(traffic.records[0].request)


EMPTY_NAMES = {
    "eval -p ''": ("eval", "-p", ""),
    "eval -p '  '": ("eval", "-p", "  "),
    "eval -s ''": ("eval", "-p", "fake", "-s", ""),
    "compare -b ''": ("compare", "-b", "", "-c", "fake"),
    "compare -c ' '": ("compare", "-b", "fake", "-c", " "),
    "compare --judge ''": ("compare", "-b", "fake", "-c", "fake", "--judge", ""),
    "judge pairwise --judge ''": ("judge", "pairwise", "-b", "fake", "-c", "smollm2", "--judge", ""),
    "report -c ''": ("report", "-b", "fake", "-c", ""),
    "risk -i ''": ("risk", "-i", ""),
    "drift -p ''": ("drift", "-p", "", "-s", "smoke"),
    "probe -p ''": ("probe", "-p", ""),
    "load -p ''": ("load", "-p", "", "--traffic", "x"),
}


@pytest.mark.parametrize("case", EMPTY_NAMES)
def test_an_empty_name_option_is_refused(isolated_runs: Path, case: str) -> None:
    """`-p "$UNSET"` must not quietly run the default provider and store a run."""
    result = run_harness(*EMPTY_NAMES[case])
    assert result.returncode == 2
    assert "name is empty" in one_error_line(result)
    assert not isolated_runs.exists() or not any(isolated_runs.iterdir())
