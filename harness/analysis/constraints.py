"""Constraints that failed open: per side of a comparison and per engine (`json_decoding`), how many
structured outputs were checked and how many break what their request asked for (the store's
`constraint_checks` view). A violation where a constraint was requested ('api', 'constrained:<engine>')
is flagged "constraint requested, N violations": the format was asked for and not kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

_CHECKS = """
    select constraint_requested, json_decoding, constraint_violation, sum(n)::bigint as n
    from constraint_checks join (select unnest(?) as run_id, unnest(?) as task) w using (run_id, task)
    group by all order by all
"""


@dataclass
class ConstraintCheck:
    side: str  # 'baseline' or 'candidate'
    provider: str
    json_decoding: str | None  # what held the outputs: 'api', 'constrained:<engine>', 'unconstrained'
    requested: bool  # a constraint was requested (the API's or a local grammar), not just the prompt
    checked: int = 0  # structured outputs checked (errored answers have none)
    violations: dict[str, int] = field(default_factory=dict)  # by kind (harness.traffic.conformance)

    @property
    def n_violations(self) -> int:
        return sum(self.violations.values())

    @property
    def failed_open(self) -> bool:
        return self.requested and self.n_violations > 0

    def note(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.violations.items(), key=lambda kv: (-kv[1], kv[0])))
        return (f"{self.provider} ({self.json_decoding}): constraint requested, {self.n_violations} violations "
                f"in {self.checked} structured outputs ({kinds})")

    def as_dict(self) -> dict[str, Any]:
        return {"side": self.side, "provider": self.provider, "json_decoding": self.json_decoding,
                "constraint_requested": self.requested, "checked": self.checked,
                "violations": self.n_violations, "by_kind": self.violations, "failed_open": self.failed_open}


def checks(con: duckdb.DuckDBPyConnection, task_rows: list[dict[str, Any]],
           providers: dict[str, str]) -> list[ConstraintCheck]:
    """Per side and engine, over the runs and tasks the comparison uses."""
    found: list[ConstraintCheck] = []
    for side, provider in providers.items():
        rows = con.execute(_CHECKS, [[r[f"{side}_run"] for r in task_rows], [r["task"] for r in task_rows]]).fetchall()
        by_engine: dict[str | None, ConstraintCheck] = {}
        for requested, decoding, violation, n in rows:
            entry = by_engine.setdefault(decoding, ConstraintCheck(side, provider, decoding, bool(requested)))
            entry.checked += int(n)
            if violation is not None:
                entry.violations[violation] = entry.violations.get(violation, 0) + int(n)
        found += by_engine.values()
    return found


def fail_open_notes(found: list[ConstraintCheck]) -> list[str]:
    """One line per side and engine whose requested constraint did not hold every output."""
    return [check.note() for check in found if check.failed_open]
