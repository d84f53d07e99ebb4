"""What the rowwise decoder is asked to do, kept apart from the decoder itself: the decoder leans on
transformers internals, and the provider must still import when a transformers release moves them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Job:
    """One prompt to continue: token ids and its own decoding settings."""

    ids: list[int]
    max_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None
    tag: Any = None  # handed back untouched with the result
    grammar: Any = None  # a grammar.RowMatcher holding the answer to a format, or None (free text)
