"""vLLM through the openai provider (docs/vllm.md): the embedded model served by `vllm serve` renders the
same chat template as the hf provider (same prompt tokens per sample), answers the smoke suite like it,
and holds a json_schema request to its schema. vLLM is an optional extra for GPU machines: where it is
not installed this module is skipped as a whole, and says so."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from bench.loopback import free_port
from harness.config.profiles import load_profile
from harness.providers.hf.weights import resolve_weights
from tests.conftest import run_harness

pytest.importorskip("vllm", reason="vLLM is an optional extra (GPU machines); not installed here")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vllm_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    port = free_port()
    folder = resolve_weights(load_profile("smollm2")).folder
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
               "--served-model-name", "smollm2", "--dtype", "float32", "--max-model-len", "4096",
               "--host", "127.0.0.1", "--port", str(port), "--seed", "1234"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 600
    try:
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "vLLM did not come up in 10 minutes"
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def _samples(db: Path, provider: str) -> dict[tuple[str, int, str], tuple[int, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select task, doc_id, filter, any_value(input_tokens), any_value(filtered) "
                           "from samples join runs using (run_id) where provider = ? group by all",
                           [provider]).fetchall()
    return {(t, int(d), f): (int(n), str(x)) for t, d, f, n, x in rows}


def test_vllm_renders_the_same_prompts_and_answers_like_the_hf_provider(vllm_url: str, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    assert run_harness("eval", "-p", "smollm2", "-s", "smoke", "--db", str(db)).returncode == 0
    served = run_harness("eval", "-p", "vllm", "-s", "smoke", "--base-url", vllm_url, "--db", str(db))
    assert served.returncode == 0, served.stderr[-1500:]
    local, remote = _samples(db, "smollm2"), _samples(db, "vllm")
    assert set(local) == set(remote) and len(local) >= 70
    # Same chat template, same tokenizer: every prompt is the same number of tokens on both sides.
    assert all(local[k][0] == remote[k][0] for k in local)
    # Greedy on different kernels (GPU): near-ties may flip, most answers do not.
    same = sum(local[k][1] == remote[k][1] for k in local)
    assert same >= 0.9 * len(local), f"{same}/{len(local)} identical answers"


def test_vllm_holds_a_json_schema_request_to_its_schema(vllm_url: str) -> None:
    from openai import OpenAI

    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    reply = OpenAI(base_url=vllm_url, api_key="none").chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "The largest city in France, as JSON."}],
        max_tokens=64, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}})
    answer = json.loads(reply.choices[0].message.content or "")
    assert set(answer) == {"city", "population"} and isinstance(answer["population"], int)
