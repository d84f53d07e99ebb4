"""Bad input that used to end with a traceback's exit code (1) or be accepted: a JSON line nested past
the parser's stack, a name longer than a file name, a shard edited after export. Same rules as
test_bad_input: exit 2, one `error:` line, nothing written. Plus the two outputs that must still be
readable: strict JSON from `sql -f json`, and `providers list` beside one broken profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import run_harness
from tests.test_bad_input import (  # noqa: F401  (seed and world are fixtures used by name)
    Args,
    World,
    _after,
    _static,
    check_case,
    seed,
    world,
)

LONG = "a" * 300


def _deep_traffic(w: World) -> str:
    path = w.tmp / "deep.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n'
                    '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    w.db = w.tmp / "traffic.duckdb"  # must not come into being
    return str(path)


def _edited_shard(w: World) -> str:
    """A shard exported from the seed, then one sample's score raised with a valid Parquet rewrite."""
    run_id = w.seeded()
    shard = w.tmp / "shard"
    exported = subprocess.run([sys.executable, "-m", "harness", "export", "-r", run_id, "-o", str(shard)],
                              capture_output=True, text=True, env={**os.environ, **w.env}, timeout=120)
    assert exported.returncode == 0, exported.stderr
    samples = shard / "samples.parquet"
    with duckdb.connect() as con:
        con.execute("create table t as select * from read_parquet(?)", [str(samples)])
        con.execute("update t set score = 1.0")
        samples.unlink()
        con.execute(f"copy t to '{samples}' (format parquet)")
    w.db = w.tmp / "merged.duckdb"  # must not come into being
    return str(shard)


CASES: dict[str, tuple[Args, str]] = {
    "traffic line nested past the parser's stack": (
        _after(_deep_traffic, "traffic", "import", "{got}", "--name", "deep", "--db", "{db}"),
        r"line 2 nests JSON deeper than 64 levels"),
    "a 300-character suite name": (_static("traffic", "import", "x.jsonl", "--name", LONG),
                                   r"suite name 'a{20}'\.\.\. is 300 characters; the limit is 64"),
    "a 300-character provider name": (_static("eval", "-p", LONG), r"provider name .* the limit is 64"),
    "merge a shard whose samples were edited": (_after(_edited_shard, "merge", "{got}", "--db", "{db}"),
                                                r"shard: samples.parquet changed after export"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2(world: World, name: str) -> None:  # noqa: F811
    make_args, pattern = CASES[name]
    check_case(world, make_args, pattern)


def _strict(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_sql_json_is_strict_json(world: World) -> None:  # noqa: F811
    world.seeded()
    result = run_harness("sql", "select 'nan'::double as a, 'inf'::double as b, '-inf'::double as c, 1.5 as d",
                         "-f", "json", env=world.env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout, parse_constant=_strict) == [{"a": None, "b": None, "c": None, "d": 1.5}]


def test_providers_list_survives_a_broken_profile(world: World) -> None:  # noqa: F811
    (world.copy("providers") / "broken.toml").write_text('kind = "fake"\nbogus = 1\n')
    result = run_harness("providers", "list", "-f", "csv", env=world.env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "name,kind,model,openness,licence,problem"
    assert "fake,fake,fake,open-source,Apache-2.0," in lines  # the good ones, all there
    broken = [line for line in lines if line.startswith("broken,")]
    assert len(broken) == 1 and "broken.toml" in broken[0]
    assert result.stderr.strip() == "error: 1 profile(s) do not load: broken (see the problem column)"
