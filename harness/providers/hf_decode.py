"""Batched decoding that answers exactly what one-at-a-time decoding answers (CPU, greedy or seeded).

Why not `model.generate` on a padded batch: a matmul over several rows takes a different kernel from a
single row (a gemm, not a gemv), and left padding changes the attention reductions, so fp32 logits move
in their last bits and a greedy token flips now and then; results would depend on the batch size and on
which other prompts shared the batch. Here each sequence computes bit for bit what it computes alone:

- prompts are prefilled one at a time, through the model's own forward (a padded prefill gains little:
  a long prompt already keeps the cores busy);
- a decode step runs every linear layer once per row, one row after another, so the weights are read
  from memory once per step and from cache for the other rows (decoding one row is memory-bound);
- attention runs per row over that row's own keys, which live in buffers sized to the request's own
  prompt plus max_tokens (no padding, no concatenation per step);
- a sequence leaves the batch at EOS, a stop string or its max_tokens, and the next prompt takes its slot.

Models: decoder-only transformers that route attention through `AttentionInterface` with no sliding
window (`supports` says which); others use the provider's `generate` path.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from harness.providers.hf_head import OutputHead

ATTENTION = "harness_rowwise"
_MODEL_TYPES = {"llama", "qwen2", "qwen3", "mistral"}


@dataclass
class Job:
    """One prompt to continue: token ids and its own decoding settings."""

    ids: list[int]
    max_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None
    tag: Any = None  # handed back untouched with the result


@dataclass
class Done:
    """A finished job: generated ids (EOS excluded), why it ended, and its wall time in ms."""

    job: Job
    tokens: list[int]
    finish: str  # "eos", "stop" or "length"
    latency_ms: float


@dataclass
class _Row:
    job: Job
    keys: list[torch.Tensor | None]
    values: list[torch.Tensor | None]
    length: int = 0  # positions already in the buffers
    tokens: list[int] = field(default_factory=list)
    generator: torch.Generator | None = None
    started: float = field(default_factory=time.perf_counter)


class _Rows:
    """The rows of one forward pass, handed to every attention layer through the model's kwargs."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows


def _rowwise_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                       attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                       harness_rows: _Rows | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Store each row's new keys and values, then attend per row exactly as an unpadded batch of one does
    (no mask: causal within a prefill, everything cached for a decode step). Outside a decoder step
    (`model.generate` from the probes) this is plain SDPA attention."""
    if harness_rows is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    layer: int = getattr(module, "layer_idx")  # noqa: B009 (a module attribute mypy sees as Tensor | Module)
    new = key.shape[2]
    outputs = []
    for i, row in enumerate(harness_rows.rows):
        if row.keys[layer] is None:
            capacity = len(row.job.ids) + row.job.max_tokens
            row.keys[layer] = key.new_empty(1, key.shape[1], capacity, key.shape[3])
            row.values[layer] = value.new_empty(1, value.shape[1], capacity, value.shape[3])
        keys, values = row.keys[layer], row.values[layer]
        assert keys is not None and values is not None
        end = row.length + new
        keys[:, :, row.length : end] = key[i : i + 1]
        values[:, :, row.length : end] = value[i : i + 1]
        out, _ = sdpa_attention_forward(module, query[i : i + 1], keys[:, :, :end], values[:, :, :end], None,
                                        dropout=dropout, scaling=scaling)
        outputs.append(out)
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs)), None


AttentionInterface.register(ATTENTION, _rowwise_attention)
# Masks as for SDPA: `generate` on a padded batch needs them (a decoder step ignores the mask it is given).
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


# True only inside RowwiseDecoder._step (per thread): other forwards (the probes' `generate`) run as usual.
_IN_STEP: ContextVar[bool] = ContextVar("harness_rowwise_step", default=False)

# Weight blocks of this size stay in a core's L2 cache while every row of a decode step passes through.
_BLOCK_BYTES = 1 << 20


def _rowwise_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    # A decode step ([rows, 1, features]) runs the single-row kernel per row, as each row alone would;
    # a matrix larger than L2 goes block of output features by block, each block hot for all rows
    # (an output feature is one dot product, so it does not depend on which block it is computed in).
    rows = x.shape[0]
    if not _IN_STEP.get() or x.dim() != 3 or rows == 1 or x.shape[1] != 1:
        return F.linear(x, self.weight, self.bias)
    blocks: list[tuple[torch.Tensor, torch.Tensor | None]] = self._harness_blocks  # type: ignore[assignment]
    if len(blocks) == 1:
        return torch.cat([F.linear(x[i : i + 1], self.weight, self.bias) for i in range(rows)])
    parts = [[F.linear(x[i : i + 1], w, b) for i in range(rows)] for w, b in blocks]
    return torch.cat([torch.cat([part[i] for part in parts], dim=-1) for i in range(rows)])


def _blocks(layer: torch.nn.Linear) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    weight, bias = layer.weight, layer.bias
    count = max(1, -(-weight.numel() * weight.element_size() // _BLOCK_BYTES))
    sizes = [len(w) for w in weight.chunk(count)]
    biases = bias.split(sizes) if bias is not None else [None] * len(sizes)
    return list(zip(weight.split(sizes), biases, strict=True))


def supports(model: Any) -> bool:
    """True when `RowwiseDecoder` can drive this model: a known decoder-only family, full attention, CPU."""
    config = model.config
    sliding = getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True)
    device = next(model.parameters()).device
    return config.model_type in _MODEL_TYPES and not sliding and device.type == "cpu"


class RowwiseDecoder:
    """Continuous batching over `slots` rows; `run` yields each job as soon as it is finished."""

    def __init__(self, model: Any, tokenizer: Any, slots: int, eos_ids: set[int]) -> None:
        self.model, self.tokenizer, self.slots, self.eos_ids = model, tokenizer, slots, eos_ids
        self.layers = model.config.num_hidden_layers
        self.head = OutputHead(model.get_output_embeddings())
        model.set_attn_implementation(ATTENTION)
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module._harness_blocks = _blocks(module)  # type: ignore[assignment]
                module.forward = types.MethodType(_rowwise_linear, module)  # type: ignore[method-assign]

    @torch.inference_mode()
    def run(self, jobs: Sequence[Job]) -> Iterator[Done]:
        """Decode every job; the longest generations start first so that the batch drains evenly."""
        queue = sorted(jobs, key=lambda j: (-j.max_tokens, -len(j.ids)))
        queue.reverse()  # pop() from the end
        active: list[_Row] = []
        while queue or active:
            while queue and len(active) < self.slots:
                row = self._start(queue.pop())
                finished = self._advance([row], self._step([row], torch.tensor([row.job.ids])))
                active += [row] if not finished else []
                yield from finished
            if active:
                last = torch.tensor([[row.tokens[-1]] for row in active])
                finished = self._advance(active, self._step(active, last))
                done = {id(d.job) for d in finished}
                active = [row for row in active if id(row.job) not in done]
                yield from finished

    def _start(self, job: Job) -> _Row:
        row = _Row(job=job, keys=[None] * self.layers, values=[None] * self.layers)
        if job.temperature > 0:
            row.generator = torch.Generator().manual_seed(job.seed or 0)
        return row

    def _step(self, rows: list[_Row], input_ids: torch.Tensor) -> list[int]:
        """Run the new positions through the model and pick each row's next token; the rows' key/value
        buffers grow by those positions."""
        width = input_ids.shape[1]
        positions = torch.tensor([[row.length + i for i in range(width)] for row in rows])
        token = _IN_STEP.set(True)
        try:
            out = self.model.base_model(input_ids=input_ids, position_ids=positions, use_cache=False,
                                        harness_rows=_Rows(rows))
        finally:
            _IN_STEP.reset(token)
        for row in rows:
            row.length += width
        hidden = out.last_hidden_state[:, -1:, :]
        greedy = [i for i, row in enumerate(rows) if row.generator is None]
        picked = dict(zip(greedy, self.head.greedy(hidden[greedy]) if greedy else [], strict=True))
        return [picked[i] if i in picked else self._sample(row, self.head.logits(hidden, i))
                for i, row in enumerate(rows)]

    def _advance(self, rows: list[_Row], tokens: list[int]) -> list[Done]:
        """Append each row's next token; return the rows that have just finished."""
        finished = []
        for row, token in zip(rows, tokens, strict=True):
            reason = None
            if token in self.eos_ids:
                reason = "eos"
            else:
                row.tokens.append(token)
                if row.job.stop and self._hit_stop(row):
                    reason = "stop"
                elif len(row.tokens) >= row.job.max_tokens:
                    reason = "length"
            if reason:
                latency = (time.perf_counter() - row.started) * 1000
                finished.append(Done(job=row.job, tokens=row.tokens, finish=reason, latency_ms=latency))
                row.keys = row.values = []  # free the buffers now, not when the batch ends
        return finished

    @staticmethod
    def _sample(row: _Row, scores: torch.Tensor) -> int:
        probs = torch.softmax(scores.float() / row.job.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=row.generator))

    def _hit_stop(self, row: _Row) -> bool:
        # A stop string ends within the last few tokens: every token adds at least one character, so
        # the tail as long as the longest stop (plus room for split characters) is enough to look at.
        tail = max(len(s) for s in row.job.stop) + 4
        text = self.tokenizer.decode(row.tokens[-tail:], skip_special_tokens=True)
        return any(s and s in text for s in row.job.stop)
