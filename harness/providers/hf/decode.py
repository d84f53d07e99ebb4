"""Continuous batching for the `hf` provider on CPU (greedy or seeded), in one of two modes.

`model.generate` on a padded batch wastes work: every sequence pads to the longest prompt, and the batch
decodes until its slowest member stops. Here each sequence leaves the batch at EOS, a stop string or
its max_tokens, and the next prompt takes its slot; prompts are never padded.

- "batched" (the default): prompts are prefilled several at a time, packed end to end in one forward
  (large matrix products run near the machine's peak), and a decode step runs each linear layer once
  for all rows; keys and values live in a slot pool (pool.py), where a decode step attends for runs
  of rows in one call per layer. Rounding differs in the last bits from decoding a prompt alone, as
  it does for any batched backend (lm-eval's own `hf` at batch size 8 included), so a greedy near-tie
  can flip.
- "exact" (`exact = true` in the profile's [hf] table): every answer is bit for bit the one the prompt
  gets alone from `model.generate`, whatever the batch. Each sequence keeps its own key/value buffers
  and attends alone, as it would in a batch of one. A matrix product over several rows takes a
  different kernel from a single row, so prompts are prefilled one at a time and a decode step runs
  every linear layer once per row, weights block by block so that each block stays in cache for all
  rows; the output layer runs batched only where rounding cannot change the argmax (hf_head.py).

Models: decoder-only transformers that route attention through `AttentionInterface` with no sliding
window (`supports` says which); others use the provider's `generate` path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from harness.providers.hf.head import OutputHead
from harness.providers.hf.jobs import Job
from harness.providers.hf.pool import SlotPool
from harness.providers.hf.prefix import SharedPrefixes
from harness.providers.hf.rows import Row, Spans, install, stepping

__all__ = ["Done", "Job", "RowwiseDecoder", "supports"]

_MODEL_TYPES = {"llama", "qwen2", "qwen3", "mistral"}
# Batched mode packs prompts into one prefill forward up to this many tokens (a longer prompt goes alone).
PREFILL_TOKENS = 2048


@dataclass
class Done:
    """A finished job: generated ids (EOS excluded), why it ended, its time in the batch (admitted to
    finished) and how long it waited for a slot before that, in ms."""

    job: Job
    tokens: list[int]
    finish: str  # "eos", "stop" or "length"
    latency_ms: float
    queue_ms: float = 0.0


def supports(model: Any) -> bool:
    """True when `RowwiseDecoder` can drive this model: a known decoder-only family, full attention, CPU."""
    config = model.config
    sliding = getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True)
    device = next(model.parameters()).device
    return config.model_type in _MODEL_TYPES and not sliding and device.type == "cpu"


class RowwiseDecoder:
    """Continuous batching over `slots` rows; `run` yields each job as soon as it is finished."""

    def __init__(self, model: Any, tokenizer: Any, slots: int, eos_ids: set[int], exact: bool = False,
                 packed_weights: bool = False) -> None:
        self.model, self.tokenizer, self.slots, self.eos_ids = model, tokenizer, slots, eos_ids
        self.mode = "exact" if exact else "batched"
        self.layers = model.config.num_hidden_layers
        self.head = OutputHead(model.get_output_embeddings())
        self.prefixes: SharedPrefixes | None = None
        self.pool: SlotPool | None = None  # batched mode, during a run
        self._prefix_rows: dict[tuple[int, ...], Row] = {}
        self._submitted = time.perf_counter()  # when the current run's jobs were handed over
        self.linear_layers = "oneDNN, packed weights" if install(model, exact, packed_weights) else "BLAS"

    @torch.inference_mode()
    def run(self, jobs: Sequence[Job]) -> Iterator[Done]:
        """Decode every job; the longest generations start first so that the batch drains evenly. Free
        slots are refilled when a quarter of them are free (or none is busy), so that prefills pack."""
        self.prefixes = SharedPrefixes(jobs) if self.mode == "batched" else None
        self.pool = SlotPool(self.model, min(self.slots, len(jobs))) if self.mode == "batched" else None
        self._submitted = time.perf_counter()
        try:
            yield from self._run(jobs)
        finally:
            self.pool = None  # its buffers go with it

    def _run(self, jobs: Sequence[Job]) -> Iterator[Done]:
        queue = sorted(jobs, key=lambda j: (-j.max_tokens, -len(j.ids)))
        queue.reverse()  # pop() from the end
        active: list[Row] = []
        while queue or active:
            free = self.slots - len(active)
            if queue and (not active or free >= max(1, self.slots // 4)):
                starting = [self._start(queue.pop()) for _ in range(min(free, len(queue)))]
                for group in self._prefill_groups(starting):
                    finished = self._advance(group, self._prefill(group))
                    done = {id(d.job) for d in finished}
                    active += [row for row in group if id(row.job) not in done]
                    yield from finished
                self._compact(active)  # a row may have ended at its first token
            if active:
                finished = self._advance(active, self._decode(active))
                done = {id(d.job) for d in finished}
                active = [row for row in active if id(row.job) not in done]
                if finished:
                    self._compact(active)
                yield from finished

    def _start(self, job: Job) -> Row:
        row = Row(job=job, keys=[None] * self.layers, values=[None] * self.layers)
        if job.temperature > 0:
            row.generator = torch.Generator().manual_seed(job.seed or 0)
        if self.pool is not None:
            row.slot = self.pool.take()
        prefix, last_user = self.prefixes.take(job) if self.prefixes else (None, False)
        if prefix is not None:
            if self.pool is not None:
                self.pool.reserve(len(job.ids), len(job.ids) + job.max_tokens)
            row.adopt(self._prefix_row(prefix), self.pool)
            if last_user:
                del self._prefix_rows[prefix]
        return row

    def _prefix_row(self, prefix: tuple[int, ...]) -> Row:
        """The keys and values of a shared prefix, computed on first use."""
        if prefix not in self._prefix_rows:
            row = Row(job=Job(ids=list(prefix), max_tokens=0), keys=[None] * self.layers,
                      values=[None] * self.layers)
            spans = Spans([row], [(0, 0, len(prefix))], packed=True)
            self._forward(spans, torch.tensor([prefix]), torch.arange(len(prefix))[None])
            self._prefix_rows[prefix] = row
        return self._prefix_rows[prefix]

    def _prefill_groups(self, rows: list[Row]) -> Iterator[list[Row]]:
        """Exact mode: one prompt per forward. Batched: consecutive prompts up to PREFILL_TOKENS."""
        group: list[Row] = []
        size = 0
        for row in rows:
            new = len(row.job.ids) - row.length
            if group and (self.mode == "exact" or size + new > PREFILL_TOKENS):
                yield group
                group, size = [], 0
            group.append(row)
            size += new
        if group:
            yield group

    def _prefill(self, rows: list[Row]) -> list[int]:
        """Prefill the prompts (past any shared prefix) packed end to end in one forward."""
        ids = [token for row in rows for token in row.job.ids[row.length :]]
        positions = [p for row in rows for p in range(row.length, len(row.job.ids))]
        spans, start = [], 0
        for row in rows:
            spans.append((0, start, len(row.job.ids) - row.length))
            start += spans[-1][2]
        self._reserve(rows, max(len(row.job.ids) for row in rows))
        states = self._forward(Spans(rows, spans, packed=True, pool=self.pool), torch.tensor([ids]),
                               torch.tensor([positions]))
        return self._pick(rows, states[0, [s + n - 1 for _, s, n in spans]].unsqueeze(1))

    def _decode(self, rows: list[Row]) -> list[int]:
        """One decode step: each row's last token in, its next token out."""
        spans = Spans(rows, [(i, 0, 1) for i in range(len(rows))], packed=False, pool=self.pool)
        if self.pool is not None:
            self._reserve(rows, max(row.length for row in rows) + 1, shrink=True)
            assert [row.slot for row in rows] == list(range(len(rows))), "rows in flight fill slots 0..n-1"
            spans.decode = self.pool.index([row.length for row in rows])
        positions = torch.tensor([[row.length] for row in rows])
        states = self._forward(spans, torch.tensor([[row.tokens[-1]] for row in rows]), positions)
        return self._pick(rows, states)

    def _compact(self, active: list[Row]) -> None:
        """Move the rows in the highest slots down into the slots just freed, so that the rows in flight
        fill slots 0..n-1: a decode step then reads no stale slot (a move copies one row's keys and
        values once; attending over a stale slot would read its keys at every step). Rows end up in
        slot order, so a decode step needs no gather."""
        if self.pool is None:
            return
        for row in sorted(active, key=lambda r: r.slot or 0, reverse=True):
            assert row.slot is not None
            if not self.pool.free:
                break
            lowest = min(self.pool.free)
            if lowest > row.slot:
                break
            self.pool.free.remove(lowest)
            self.pool.move(row.slot, lowest, row.length)
            self.pool.give(row.slot)
            row.slot = lowest
        active.sort(key=lambda row: row.slot or 0)

    def _reserve(self, rows: list[Row], needed: int, shrink: bool = False) -> None:
        if self.pool is not None:
            self.pool.reserve(needed, max(len(row.job.ids) + row.job.max_tokens for row in rows), shrink)

    def _forward(self, spans: Spans, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Run the new positions through the model (its last hidden states out); the rows' key/value
        buffers grow by those positions."""
        with stepping(self.mode):
            out = self.model.base_model(input_ids=input_ids, position_ids=positions, use_cache=False,
                                        harness_rows=spans)
        for row, (_, _, new) in zip(spans.rows, spans.spans, strict=True):
            row.length += new
        states: torch.Tensor = out.last_hidden_state
        return states

    def _pick(self, rows: list[Row], hidden: torch.Tensor) -> list[int]:
        # A row held by a grammar needs its full logits to mask: in exact mode those of the single-row
        # kernel, so a constrained greedy answer is the argmax of exactly what the prompt alone gets.
        free = [i for i, row in enumerate(rows) if row.generator is None and row.job.grammar is None]
        if self.mode == "exact":
            picked = dict(zip(free, self.head.greedy(hidden[free]) if free else [], strict=True))
            return [picked[i] if i in picked else self._choose(row, self.head.logits(hidden, i))
                    for i, row in enumerate(rows)]
        logits = F.linear(hidden[:, -1], self.head.weight, self.head.bias)
        return [int(logits[i].argmax()) if i in free else self._choose(row, logits[i]) for i, row in enumerate(rows)]

    def _choose(self, row: Row, scores: torch.Tensor) -> int:
        """The row's next token from its logits: masked by its grammar if it has one; greedy or sampled."""
        if row.job.grammar is not None:
            scores = row.job.grammar.mask(scores)
        return int(scores.argmax()) if row.generator is None else self._sample(row, scores)

    def _advance(self, rows: list[Row], tokens: list[int]) -> list[Done]:
        """Append each row's next token; return the rows that have just finished."""
        finished = []
        for row, token in zip(rows, tokens, strict=True):
            reason = None
            if token in self.eos_ids:
                reason = "eos"
            else:
                row.tokens.append(token)
                if row.job.grammar is not None:
                    row.job.grammar.accept(token)
                if row.job.grammar is not None and row.job.grammar.finished:
                    reason = "eos"  # the grammar allows nothing more: the answer is complete
                elif row.job.stop and self._hit_stop(row):
                    reason = "stop"
                elif len(row.tokens) >= row.job.max_tokens:
                    reason = "length"
            if reason:
                latency = (time.perf_counter() - row.started) * 1000
                queued = (row.started - self._submitted) * 1000
                finished.append(Done(job=row.job, tokens=row.tokens, finish=reason, latency_ms=latency,
                                     queue_ms=queued))
                row.keys = row.values = []  # free the buffers now, not when the batch ends
                if self.pool is not None and row.slot is not None:
                    self.pool.give(row.slot)
        return finished

    @staticmethod
    def _sample(row: Row, scores: torch.Tensor) -> int:
        probs = torch.softmax(scores.float() / row.job.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=row.generator))

    def _hit_stop(self, row: Row) -> bool:
        # A stop string ends within the last few tokens: every token adds at least one character, so
        # the tail as long as the longest stop (plus room for split characters) is enough to look at.
        tail = max(len(s) for s in row.job.stop) + 4
        text = self.tokenizer.decode(row.tokens[-tail:], skip_special_tokens=True)
        return any(s and s in text for s in row.job.stop)
