"""`harness capture`: the real proxy (the CLI in a child process) between the real `openai` client and a
loopback upstream. The client cannot tell it is there (bodies, status codes, streams, a dropped
connection), the key goes upstream and into no file, what it writes imports and compares, and a
folder it cannot write or a writer killed mid-load costs no request, only counted lines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.checks import obey_file_modes, query
from tests.conftest import ROOT, run_harness
from tests.servers import ChatUpstream

CANARY = "sk-capture-canary-0123456789abcdefghij"


@contextmanager
def capture(upstream: str, out: Path, *extra: str, preexec: Any = None) -> Iterator[dict[str, Any]]:
    """`harness capture --port 0` running; yields its base URL and, after it stops, its last line."""
    process = subprocess.Popen([sys.executable, "-m", "harness", "capture", "--upstream", upstream, "--port", "0",
                                "-o", str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, preexec_fn=preexec)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+/v1)", line)
    assert found, line + (process.stderr.read() if process.stderr else "")
    state: dict[str, Any] = {"base_url": found.group(1), "process": process}
    try:
        yield state
    finally:
        process.send_signal(signal.SIGINT)
        out_text, err_text = process.communicate(timeout=60)
        state["stopped"], state["stderr"], state["code"] = out_text, err_text, process.returncode


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=CANARY, max_retries=0, timeout=30)


def _call(client: openai.OpenAI, text: str, stream: bool = False) -> tuple[int, bytes]:
    """(status, raw body bytes) as the client received them, or (0, b"") for a dropped connection."""
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    try:
        if stream:
            with client.chat.completions.with_streaming_response.create(**kwargs, stream=True) as response:
                return response.status_code, b"".join(response.iter_bytes())
        raw = client.chat.completions.with_raw_response.create(**kwargs)
        return raw.status_code, raw.content
    except openai.APIStatusError as exc:
        return exc.status_code, exc.response.content
    except openai.APIConnectionError:
        return 0, b""


def _metrics(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {name.removeprefix("lockin_capture_"): int(value) for name, value in (line.split() for line in lines)}


CASES = [("hello there", False), ("a streamed answer", True), ("status=400", False), ("status=429", False),
         ("status=500", False), ("drop", False)]


def test_the_client_cannot_tell_and_the_capture_imports(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    with ChatUpstream() as upstream:
        direct = [_call(_client(upstream.base_url), text, stream) for text, stream in CASES]
        with capture(upstream.base_url, out) as proxy:
            proxied = [_call(_client(proxy["base_url"]), text, stream) for text, stream in CASES]
            time.sleep(0.5)
            counts = _metrics(proxy["base_url"])
    assert [status for status, _ in direct] == [200, 200, 400, 429, 500, 0]
    assert proxied == direct  # status codes and bytes, streams included
    assert counts["proxy_captured"] == 2 and counts["proxy_not_captured_status"] == 3
    assert counts["proxy_upstream_failed"] == 1 and counts["writer_written"] == 2
    assert proxy["code"] == 0 and "2 lines written" in proxy["stopped"], proxy["stderr"]
    files = list(out.glob("*.jsonl"))
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [line["response"]["choices"][0]["message"]["content"] for line in lines] == [
        "echo: hello there", "echo: a streamed answer"]  # the stream, put back together
    assert lines[1]["response"]["usage"]["completion_tokens"] == 4
    for path in out.rglob("*"):
        assert CANARY.encode() not in path.read_bytes()
    assert CANARY not in proxy["stopped"] + proxy["stderr"]

    db = tmp_path / "h.duckdb"
    tasks = tmp_path / "tasks"
    env = {"HARNESS_TASKS_DIR": str(tasks)}
    subprocess.run(["cp", "-r", str(ROOT / "tasks"), str(tasks)], check=True)
    imported = run_harness("traffic", "import", str(files[0]), "--name", "captured", "--incumbent", "gpt-4o",
                           "--db", str(db), env=env)
    assert imported.returncode == 0, imported.stderr
    assert run_harness("eval", "-p", "fake", "-s", "captured", "--db", str(db), env=env).returncode == 0
    compared = run_harness("compare", "-b", "gpt-4o", "-c", "fake", "-s", "captured", "--db", str(db), env=env)
    assert compared.returncode == 0 and "captured_text" in compared.stdout, compared.stderr
    assert query(db, "select count(*) from generations g join runs r using (run_id) where r.source = 'imported'") \
        == [(2,)]


def _load(base_url: str, n: int, during: dict[int, Any]) -> list[int]:
    """n requests from 16 threads (a third streamed); `during[i]` runs once request i is sent."""
    client = _client(base_url)

    def one(i: int) -> int:
        if i in during:
            during[i]()
        return _call(client, f"request {i}", stream=i % 3 == 0)[0]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


def test_a_folder_it_cannot_write_and_a_killed_writer_cost_no_request() -> None:
    if os.geteuid() == 0 and subprocess.run([sys.executable, "-c", ""], preexec_fn=obey_file_modes).returncode:
        pytest.skip("running as root without the right to drop CAP_DAC_OVERRIDE")
    out = Path(tempfile.mkdtemp(prefix="capture-faults-"))
    try:
        with ChatUpstream() as upstream, capture(upstream.base_url, out, preexec=obey_file_modes) as proxy:
            base = proxy["base_url"]

            def kill_writer() -> None:
                os.kill(_metrics(base)["writer_writer_pid"], signal.SIGKILL)

            # Read-only from request 250 to 700; the writer killed at 400: its successor cannot open a
            # file until the folder is writable again, and every line meanwhile is counted lost.
            statuses = _load(base, 1000, {250: lambda: out.chmod(0o555), 400: kill_writer,
                                          700: lambda: out.chmod(0o755)})
            time.sleep(2.0)  # the restarted writer takes what is queued
            counts = _metrics(base)
        print("capture under faults:", counts)
        assert statuses == [200] * 1000  # not one client request failed
        assert counts["proxy_captured"] == 1000
        assert counts["writer_write_errors"] > 0 and counts["writer_writer_restarts"] >= 1
        lost = sum(counts[f"writer_{k}"] for k in ("write_errors", "unreadable", "dropped_queue_full",
                                                    "dropped_writer_down"))
        assert counts["writer_written"] + lost == 1000, counts  # every line written or counted lost
        written = sum(len(p.read_text().splitlines()) for p in out.glob("*.jsonl"))
        assert written == counts["writer_written"]
        assert proxy["code"] == 0, proxy["stderr"]
    finally:
        out.chmod(0o755)
        subprocess.run(["rm", "-rf", str(out)], check=False)
