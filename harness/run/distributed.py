"""Data-parallel evaluation with accelerate (docs/scale.md): which process this is, and how the
processes talk. Under `accelerate launch` (WORLD_SIZE > 1) lm-eval gives each process every N-th doc;
only the main process writes the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.store.writes import GenerationWriter


@dataclass
class Ranks:
    """This process's place among the evaluating processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    accelerator: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> Any:
        return self.accelerator.device if self.accelerator is not None else "cpu"

    def gather(self, obj: Any) -> list[Any]:
        """Every process's `obj`, in rank order, on every process."""
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return list(gather_object([obj]))

    def broadcast(self, obj: Any) -> Any:
        """The main process's `obj` on every process."""
        if self.world == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def all_gather(self, tensor: Any) -> Any:
        return tensor if self.world == 1 else self.accelerator.gather(tensor)

    def barrier(self) -> None:
        if self.world > 1:
            self.accelerator.wait_for_everyone()


_CURRENT: Ranks | None = None


def current() -> Ranks:
    """Ranks from the launcher's environment, set up once per process."""
    global _CURRENT
    if _CURRENT is None:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            _CURRENT = Ranks()
        else:
            import torch
            from accelerate import Accelerator

            accelerator = Accelerator(cpu=not torch.cuda.is_available())
            # CPU processes share the cores; without this each would start a thread per core.
            if not torch.cuda.is_available():
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // accelerator.num_processes))
            _CURRENT = Ranks(accelerator.process_index, accelerator.num_processes, accelerator)
    return _CURRENT


def without_processes(argv: list[str]) -> list[str]:
    """The command line minus `--processes N` (or `--processes=N`), for the relaunched processes."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            kept.append(arg)
    return kept


def relaunch(argv: list[str], processes: int, limit: int | None = None, debug: bool = False) -> int:
    """Run `harness <argv>` (without --processes) under `accelerate launch`; return its exit code.
    The launcher's own report of a failed child (a page of torch-elastic output) is kept back: the
    user gets the first error line a process printed, unless `debug`."""
    if limit is not None and limit < processes:
        raise HarnessError(f"--limit {limit} leaves some of the {processes} processes without docs; "
                           f"use --limit {processes} or more, or fewer processes")
    argv = without_processes(argv)
    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    if launcher is None:
        raise HarnessError("--processes needs accelerate (pip install accelerate)")
    command = [launcher, "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "harness", *argv]
    env = {**os.environ, "HARNESS_PROCESSES": str(processes)}
    if debug:
        return subprocess.call(command, env=env)
    done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, errors="replace")
    if done.returncode == 0:
        sys.stderr.write(done.stderr)
        return 0
    errors = [line[len("error: "):] for line in done.stderr.splitlines() if line.startswith("error: ")]
    if errors:
        raise HarnessError(errors[0])
    raise HarnessError(f"the {processes} evaluating processes failed (exit {done.returncode}); "
                       "run with --debug for their output")


class HeldRows:
    """A non-main process's sink: it keeps its rows until `hand_over` gives them to the main
    process's writer (only the main process writes the database)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.cache_rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def add_cache(self, row: dict[str, Any]) -> None:
        self.cache_rows.append(row)


def hand_over(ranks: Ranks, sink: GenerationWriter | HeldRows, by_doc: dict[Any, Any]) -> dict[Any, Any]:
    """Collective, after generation: every process's held rows go to the main process's writer, and
    every process's results by (task, doc) are merged there. Returns the merged results."""
    if ranks.world == 1:
        return by_doc
    mine = (sink.rows, sink.cache_rows, by_doc) if isinstance(sink, HeldRows) else ([], [], by_doc)
    merged: dict[Any, Any] = {}
    for rows, cache_rows, results in ranks.gather(mine):
        if isinstance(sink, GenerationWriter):
            sink.extend(rows, cache_rows)
        merged.update(results)
    return merged


def add_up(ranks: Ranks, counts: Any) -> None:
    """Collective: on the main process, add the other processes' counters (a dataclass of ints) to `counts`."""
    if ranks.world == 1:
        return
    gathered = ranks.gather(counts)
    if ranks.is_main:
        for other in gathered[1:]:
            for name, value in vars(other).items():
                setattr(counts, name, getattr(counts, name) + value)
