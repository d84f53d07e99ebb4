"""A cached re-run against the first run: the smoke suite on the embedded smollm2, twice, into a fresh
database (an empty cache). The second run must ask the model nothing.

Run: .venv/bin/python -m bench.cache_rerun [--provider smollm2] [--suite smoke]
Writes bench/results/cache_rerun.json: per run the run's own wall time as the harness records it
(`runs.wall_s`: from the first request to the stored scores) and the whole command's wall time
(process start, imports and model load included), provider calls and cache hits, and both ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

OUT = Path(__file__).parent / "results" / "cache_rerun.json"


def _eval(provider: str, suite: str, db: Path) -> dict:
    """One `harness eval` in a child process; its figures from the command and from the run row."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "harness", "eval", "-p", provider, "-s", suite, "--db", str(db)],
                   check=True, stdout=subprocess.DEVNULL)
    command_wall = time.monotonic() - started
    con = duckdb.connect(str(db), read_only=True)
    try:
        run_id, wall, hits, calls, n = con.execute(
            "select run_id, wall_s, cache_hits, provider_calls, n_requests from runs"
            " order by started_at desc limit 1").fetchone()
    finally:
        con.close()
    return {"run_id": run_id, "run_wall_s": wall, "command_wall_s": command_wall, "cache_hits": hits,
            "provider_calls": calls, "samples": n}


def _same_responses(db: Path, first: str, second: str) -> bool:
    con = duckdb.connect(str(db), read_only=True)
    try:
        query = "select task, doc_id, response from generations where run_id = ?"
        a, b = (set(con.execute(query, [run]).fetchall()) for run in (first, second))
    finally:
        con.close()
    return bool(a) and a == b


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", default="smollm2")
    parser.add_argument("--suite", default="smoke")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "harness.duckdb"
        first = _eval(args.provider, args.suite, db)
        cached = _eval(args.provider, args.suite, db)
        same = _same_responses(db, first["run_id"], cached["run_id"])
    report = {
        "bench": "cache_rerun", "provider": args.provider, "suite": args.suite,
        "machine": platform.machine(), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "first": first, "cached": cached,
        "run_wall_ratio": first["run_wall_s"] / cached["run_wall_s"],
        "command_wall_ratio": first["command_wall_s"] / cached["command_wall_s"],
        "same_responses": same,
    }
    print(f"first run {first['run_wall_s']:.1f} s ({first['command_wall_s']:.1f} s command), "
          f"{first['provider_calls']} provider calls; cached {cached['run_wall_s']:.2f} s "
          f"({cached['command_wall_s']:.1f} s command), {cached['provider_calls']} provider calls; "
          f"ratio {report['run_wall_ratio']:.0f}x run, {report['command_wall_ratio']:.1f}x command; "
          f"same responses: {same}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
