"""Run `lm_eval --model hf` and `harness eval` on the same tasks as child processes, and read their
per-sample responses back; shared by the parity and throughput benches.

Each child is timed from start to exit (imports and model load included, the same for both sides) and
its peak RSS (the whole process tree) is sampled; a memory cap kills a child that grows past it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}
# (task, doc_id, filter) -> (raw response, filtered response, score)
Samples = dict[tuple[str, int, str], tuple[str, str, float]]


@dataclass
class Child:
    """How a child process ended: wall seconds, peak RSS in bytes, exit code, and why it was stopped."""

    wall_s: float
    peak_rss: int
    returncode: int
    stopped: str | None = None  # "memory" or "timeout" when this module killed it
    tail: str = ""


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a child may exit between the listing and the read
            total += p.memory_info().rss
    return total


def run_child(command: list[str], env: dict[str, str] | None = None, max_rss: int | None = None,
              timeout_s: float | None = None, log: Path | None = None) -> Child:
    """Run a command, sampling its tree's RSS every 0.2 s; kill it past `max_rss` bytes or `timeout_s`."""
    log_fh = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    started = time.monotonic()
    proc = subprocess.Popen(command, env={**os.environ, **OFFLINE, **(env or {})}, stdout=log_fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    watched = psutil.Process(proc.pid)
    peak, stopped = 0, None
    done = threading.Event()

    def watch() -> None:
        nonlocal peak, stopped
        while not done.wait(0.2):
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.Error:
                return
            over_time = timeout_s is not None and time.monotonic() - started > timeout_s
            if (max_rss and peak > max_rss) or over_time:
                stopped = "memory" if max_rss and peak > max_rss else "timeout"
                os.killpg(proc.pid, 9)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    returncode = proc.wait()
    wall = time.monotonic() - started
    done.set()
    watcher.join()
    tail = ""
    if log:
        log_fh.close()  # type: ignore[union-attr]
        tail = log.read_text(errors="replace")[-2000:]
    return Child(wall_s=wall, peak_rss=peak, returncode=returncode, stopped=stopped, tail=tail)


def lm_eval_command(model_dir: Path, tasks: list[str], include: Path, batch_size: str, out: Path,
                    limit: int | None = None) -> list[str]:
    """`lm_eval --model hf` with the harness's policy: fp32, chat template, few-shot as multiturn, seed."""
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf",
        "--model_args", f"pretrained={model_dir},dtype=float32", "--tasks", ",".join(tasks),
        "--include_path", str(include), "--apply_chat_template", "--fewshot_as_multiturn",
        "--batch_size", batch_size, "--log_samples", "--output_path", str(out), "--seed", "1234",
    ]
    return command + (["--limit", str(limit)] if limit else [])


def harness_command(tasks: list[str], db: Path, include: Path | None = None, limit: int | None = None,
                    batch_size: int | None = None, provider: str = "smollm2") -> list[str]:
    command = [sys.executable, "-m", "harness", "eval", "-p", provider, "--db", str(db)]
    command += [arg for t in tasks for arg in ("-t", t)]
    command += ["--include-path", str(include)] if include else []
    command += ["--limit", str(limit)] if limit else []
    return command + (["--batch-size", str(batch_size)] if batch_size else [])


def lm_eval_samples(out: Path, metric: str = "exact_match") -> Samples:
    """Read lm-eval's samples_*.jsonl files under `out`."""
    samples: Samples = {}
    for path in out.rglob("samples_*.jsonl"):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in path.read_text().splitlines():
            row = json.loads(line)
            raw = row["resps"][0][0] if row["resps"] and row["resps"][0] else ""
            filtered = row["filtered_resps"][0]
            filtered = filtered[0] if isinstance(filtered, list) else filtered
            score = next((float(row[k]) for k in (metric, "pass@1") if k in row), 0.0)
            samples[(task, int(row["doc_id"]), row["filter"])] = (str(raw), str(filtered), score)
    return samples


def harness_samples(db: Path) -> Samples:
    """Read the harness's samples table (one metric per task and filter: the first one stored)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select task, doc_id, filter, any_value(response), any_value(filtered), "
                           "any_value(score) from samples group by all").fetchall()
    finally:
        con.close()
    return {(t, int(d), f): (str(r), str(x), float(s)) for t, d, f, r, x, s in rows}
