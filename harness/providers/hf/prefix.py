"""Shared prompt prefixes (few-shot examples, a system prompt) prefilled once per run, not once per prompt.

Prompts of one task often start with the same hundreds of tokens (an 8-shot GSM8K prompt repeats
about 830 of its 900). Sorting the prompts puts those that share a prefix next to each other; the
prefix a run of them shares, when at least `MIN_TOKENS` long (or `SHORT_TOKENS` among the prompts left:
a system prompt), is computed once, and each prompt that starts with it copies its keys and values and
prefills only the rest.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from harness.providers.hf.jobs import Job

MIN_TOKENS = 64
# A second pass shares shorter prefixes (a system prompt) among the prompts the first pass left.
SHORT_TOKENS = 16


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class SharedPrefixes:
    """Which prefix each job can reuse, and how many jobs still need each one.

    Two passes: first runs of prompts that share at least `min_tokens` (few-shot examples: hundreds of
    tokens), then, among the prompts left, runs that share at least `short_tokens` (a system prompt and
    the chat template's opening turn, which nearly every prompt of a suite or of a team's traffic
    starts with). One pass at the short length would merge the few-shot runs into a run that only
    shares the system prompt."""

    def __init__(self, jobs: Sequence[Job], min_tokens: int = MIN_TOKENS, short_tokens: int = SHORT_TOKENS) -> None:
        self.prefix: dict[int, tuple[int, ...]] = {}  # id(job) -> its shared prefix
        self.users: dict[tuple[int, ...], int] = {}
        left = list(range(len(jobs)))
        for threshold in (min_tokens, min(short_tokens, min_tokens)):
            self._add_runs(jobs, left, threshold)
            left = [i for i in left if id(jobs[i]) not in self.prefix]

    def _add_runs(self, jobs: Sequence[Job], candidates: list[int], min_tokens: int) -> None:
        order = sorted(candidates, key=lambda i: jobs[i].ids)
        # Runs of neighbours (in sorted order) that share at least min_tokens; a run's prefix is the
        # shortest of its shared lengths, so that every member uses the same one.
        runs: list[tuple[list[int], int]] = []
        for prev, index in itertools.pairwise(order):
            shared = _common(jobs[prev].ids, jobs[index].ids)
            if shared < min_tokens:
                continue
            if runs and runs[-1][0][-1] == prev:
                runs[-1] = ([*runs[-1][0], index], min(runs[-1][1], shared))
            else:
                runs.append(([prev, index], shared))
        prefix: dict[int, tuple[int, ...]] = {}
        users: dict[tuple[int, ...], int] = {}
        for members, shared in runs:
            for index in members:
                ids = jobs[index].ids
                key = tuple(ids[: min(shared, len(ids) - 1)])  # at least one token of its own to prefill
                prefix[id(jobs[index])] = key
                users[key] = users.get(key, 0) + 1
        # A prefix only one job would use saves nothing.
        keep = {k for k, n in users.items() if n > 1 and len(k) >= min_tokens}
        self.prefix.update({j: k for j, k in prefix.items() if k in keep})
        for key in keep:
            self.users[key] = self.users.get(key, 0) + users[key]

    def take(self, job: Job) -> tuple[tuple[int, ...] | None, bool]:
        """The job's shared prefix (or None), and whether this job is its last user."""
        key = self.prefix.get(id(job))
        if key is None:
            return None, False
        self.users[key] -= 1
        return key, self.users[key] == 0
