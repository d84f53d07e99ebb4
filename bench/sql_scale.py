"""The comparison SQL at scale: `quality_gap` and `migration` over 10 M sample rows (5 providers x 2 M).

Peer, in the same run on the same file: the bare paired join and per-task mean of differences, the
least work any paired comparison must do. Medians of 5 timed runs after one warm-up.
Run: .venv/bin/python -m bench.sql_scale   (writes bench/results/sql_scale.json)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from bench.synthetic import add_run, open_store

OUT = Path(__file__).parent / "results" / "sql_scale.json"
PROVIDERS, TASKS, DOCS = 5, 20, 100_000  # 5 x 20 x 100,000 = 10 M rows
REPEATS = 5
PEER = """
    select b.task, count(*), avg(c.score - b.score) from samples b join samples c using (task, doc_id, metric, filter)
    where b.run_id = 'run-p0' and c.run_id = 'run-p1' group by b.task
"""


def build(path: Path) -> None:
    con = open_store(path)
    tasks = [f"task_{t:02d}" for t in range(TASKS)]
    for p in range(PROVIDERS):
        add_run(con, f"p{p}", f"run-p{p}", tasks, DOCS, finished=f"2026-01-01 00:00:0{p}")
        # Provider p answers a doc right with probability 0.5 + 0.05 p, from a hash of (p, task, doc).
        con.execute(f"""
            insert into samples (run_id, task, doc_id, filter, metric, doc_hash, prompt, response, score)
            select 'run-p{p}', 'task_' || lpad((i // {DOCS})::varchar, 2, '0'), (i % {DOCS})::integer, 'none',
                   'score', (i % {DOCS})::varchar, '', '',
                   case when hash({p}, i) % 1000 < {500 + 50 * p} then 1.0 else 0.0 end
            from range({TASKS * DOCS}) r(i)""")
    con.close()


def timed(con: duckdb.DuckDBPyConnection, query: str) -> tuple[float, int]:
    con.execute(query).fetchall()  # warm-up
    times, rows = [], 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        rows = len(con.execute(query).fetchall())
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scale.duckdb"
        started = time.perf_counter()
        build(path)
        build_s = time.perf_counter() - started
        con = duckdb.connect(str(path), read_only=True)
        total = con.execute("select count(*) from samples").fetchone()[0]  # type: ignore[index]
        gap_s, gap_rows = timed(con, "select * from quality_gap('p0', 'p1')")
        migration_s, _ = timed(con, "select * from migration('p0', 'p1', margin := 0.05)")
        peer_s, _ = timed(con, PEER)
        con.close()
    result = {
        "bench": "sql_scale", "sample_rows": total, "providers": PROVIDERS, "tasks": TASKS, "docs_per_task": DOCS,
        "build_s": round(build_s, 1), "quality_gap_s": gap_s, "migration_s": migration_s, "bare_join_s": peer_s,
        "quality_gap_vs_bare_join": gap_s / peer_s, "rows_out": gap_rows, "machine": platform.machine(),
        "cpus": os.cpu_count(), "duckdb": duckdb.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"{total:,} sample rows: quality_gap {gap_s:.2f} s, migration {migration_s:.2f} s; bare paired join "
          f"{peer_s:.2f} s (ratio {gap_s / peer_s:.2f}); goal < 2 s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
