"""One view or macro: its name, its kind and the one statement that (re)creates it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

_HEAD = re.compile(r"\s*create or replace (view|macro) (\w+)\b")


@dataclass(frozen=True)
class Definition:
    """`sql` is a single `create or replace view|macro NAME ...` statement; its hash says when to re-apply it."""

    name: str
    kind: Literal["view", "macro"]
    sql: str

    def __post_init__(self) -> None:
        head = _HEAD.match(self.sql)
        if head is None or head.groups() != (self.kind, self.name):
            raise ValueError(f"definition {self.name!r} must start `create or replace {self.kind} {self.name}`")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()
