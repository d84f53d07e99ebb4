"""Where a candidate's losses come from: the discordant pairs (baseline correct, candidate not) of
each task split by the candidate's failure class (`failure_modes()`, migration 0010), with the share
a format instruction or a larger token cap could plausibly win back, and a few examples of each.

The taxonomy lives in SQL (`sample_classes`), so `harness compare`, the report and plain `duckdb`
all read the same classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from harness.store.reads import fetch_dicts

# Targets and tool calls whole: cut short, a call list or a target's repr no longer parses, and the
# page would show it raw instead of as calls.
_EXAMPLES = """
    select c.task, c.doc_id, c.failure_class, left(c.prompt, 600) as prompt, c.target,
           left(b.response, 600) as baseline, left(c.response, 600) as candidate,
           b.tool_calls::varchar as baseline_tool_calls, c.tool_calls::varchar as candidate_tool_calls
    from sample_classes c join sample_classes b using (task, doc_id)
    where c.run_id = ? and b.run_id = ? and c.task = ? and c.failure_class = ? and b.failure_class = 'correct'
    order by c.doc_id limit ?
"""


@dataclass
class TaskLosses:
    task: str
    discordant: int  # baseline correct, candidate not (errored pairs left out, as in the gap)
    classes: list[dict[str, Any]]  # failure_class, n, share, fixable_by
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per class, a few

    def fixable(self, by: str) -> float:
        """Share of the discordant pairs a fix of this kind ('format', 'token cap') could address."""
        return sum(c["share"] for c in self.classes if c["fixable_by"] == by)

    def summary(self) -> str:
        """One cell: how many losses, the commonest classes, and the fixable shares."""
        if not self.discordant:
            return "0"
        top = ", ".join(f"{c['failure_class']} {c['n']}" for c in self.classes[:3])
        more = f", +{len(self.classes) - 3} more" if len(self.classes) > 3 else ""
        fixable = [f"{self.fixable(by):.0%} {label}" for by, label in (("format", "format"), ("token cap", "cap"))
                   if self.fixable(by)]
        return f"{self.discordant}: {top}{more}" + (f" (fixable: {', '.join(fixable)})" if fixable else "")


def overall(per_task: dict[str, TaskLosses]) -> TaskLosses:
    """All tasks' losses together (unweighted counts)."""
    counts: dict[tuple[str, str | None], int] = {}
    for entry in per_task.values():
        for cls in entry.classes:
            key = (cls["failure_class"], cls["fixable_by"])
            counts[key] = counts.get(key, 0) + int(cls["n"])
    total = sum(counts.values())
    classes = [{"failure_class": name, "n": n, "share": n / total, "fixable_by": by}
               for (name, by), n in sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))]
    return TaskLosses("OVERALL", total, classes)


def losses(con: duckdb.DuckDBPyConnection, baseline: str, candidate: str, suite: str | None,
           max_error_rate: float, task_rows: list[dict[str, Any]], examples: int = 0) -> dict[str, TaskLosses]:
    """Per task: the candidate's losses by failure class (and up to `examples` examples of each)."""
    rows = fetch_dicts(con.execute(
        "select * from failure_modes($b, $c, suite_name := $s, max_error_rate := $m)",
        {"b": baseline, "c": candidate, "s": suite, "m": max_error_rate}))
    found = {r["task"]: TaskLosses(r["task"], 0, []) for r in task_rows}
    for row in rows:
        entry = found.setdefault(row["task"], TaskLosses(row["task"], 0, []))
        entry.discordant = int(row["discordant"])
        entry.classes.append({k: row[k] for k in ("failure_class", "n", "share", "fixable_by")})
    if examples:
        runs = {r["task"]: (r["candidate_run"], r["baseline_run"]) for r in task_rows}
        for entry in found.values():
            for cls in entry.classes:
                entry.examples[cls["failure_class"]] = fetch_dicts(con.execute(
                    _EXAMPLES, [*runs[entry.task], entry.task, cls["failure_class"], examples]))
    return found
