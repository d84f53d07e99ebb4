"""The model-side half of rowwise decoding: per-sequence key/value buffers, the attention function
that uses them, and the linear layers of the exact mode (see decode.py for the two modes).

Both are installed on the model once and act only inside a decoder step (`stepping`); any other
forward (the probes call `model.generate`) runs as plain SDPA attention and plain linear layers.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from harness.providers.hf import packed
from harness.providers.hf.jobs import Job
from harness.providers.hf.pool import DecodeIndex, SlotPool

ATTENTION = "harness_rowwise"
# Key/value buffers start this many positions past the prompt and double as a sequence grows.
_FIRST_ROOM = 64
# Weight blocks of this size stay in a core's L2 cache while every row of an exact decode step passes.
_BLOCK_BYTES = 1 << 20
# None outside a decoder step; "batched" or "exact" inside one (per thread).
_MODE: ContextVar[str | None] = ContextVar("harness_rowwise_mode", default=None)


@dataclass
class Row:
    """A sequence in flight: its job, its key/value buffers per layer and what it has generated."""

    job: Job
    keys: list[torch.Tensor | None]
    values: list[torch.Tensor | None]
    length: int = 0  # positions already in the buffers
    tokens: list[int] = field(default_factory=list)
    generator: torch.Generator | None = None
    started: float = field(default_factory=time.perf_counter)
    slot: int | None = None  # batched mode: the row's slot in the pool, which then holds its keys and values

    def buffers(self, layer: int, key: torch.Tensor, value: torch.Tensor,
                end: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's key and value buffers, with room for `end` positions (grown by doubling, capped at
        the prompt plus max_tokens: most answers stop long before their max_tokens)."""
        keys, values = self.keys[layer], self.values[layer]
        if keys is not None and values is not None and keys.shape[2] >= end:
            return keys, values
        limit = len(self.job.ids) + self.job.max_tokens
        room = 0 if keys is None else keys.shape[2]
        capacity = max(end, min(limit, max(2 * room, len(self.job.ids) + _FIRST_ROOM)))
        grown_k = key.new_empty(1, key.shape[1], capacity, key.shape[3])
        grown_v = value.new_empty(1, value.shape[1], capacity, value.shape[3])
        if keys is not None and values is not None:
            grown_k[:, :, : self.length] = keys[:, :, : self.length]
            grown_v[:, :, : self.length] = values[:, :, : self.length]
        self.keys[layer], self.values[layer] = grown_k, grown_v
        return grown_k, grown_v


    def adopt(self, prefix: Row, pool: SlotPool | None) -> None:
        """Start from a shared prefix's keys and values (copied: this row writes its own after them)."""
        for layer, (key, value) in enumerate(zip(prefix.keys, prefix.values, strict=True)):
            assert key is not None and value is not None
            keys, values = self.storage(layer, key, value, len(self.job.ids), pool)
            keys[:, :, : prefix.length] = key[:, :, : prefix.length]
            values[:, :, : prefix.length] = value[:, :, : prefix.length]
        self.length = prefix.length

    def storage(self, layer: int, key: torch.Tensor, value: torch.Tensor, end: int,
                pool: SlotPool | None) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's key and value buffers: the row's slot in the pool, else its own."""
        if self.slot is not None and pool is not None:
            return pool.row_buffers(layer, self.slot)
        return self.buffers(layer, key, value, end)


@dataclass
class Spans:
    """Where each row's new positions lie in a forward's tensors: (batch index, start, count). A decode
    step puts row i at batch i; a packed prefill puts every prompt in batch 0, one after another."""

    rows: list[Row]
    spans: list[tuple[int, int, int]]
    packed: bool
    pool: SlotPool | None = None
    decode: DecodeIndex | None = None  # a decode step over pooled rows: one attention call per layer


@contextmanager
def stepping(mode: str) -> Iterator[None]:
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def _rowwise_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                       attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                       harness_rows: Spans | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Store each row's new keys and values, then attend per row exactly as an unpadded batch of one does
    (no mask: causal within a prefill, everything cached for a decode step). Outside a decoder step
    this is plain SDPA attention."""
    if harness_rows is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    layer: int = getattr(module, "layer_idx")  # noqa: B009 (a module attribute mypy sees as Tensor | Module)
    pool = harness_rows.pool
    if harness_rows.decode is not None and pool is not None:
        return pool.decode_attention(layer, harness_rows.decode, query, key, value, scaling), None
    outputs = []
    for row, (b, start, new) in zip(harness_rows.rows, harness_rows.spans, strict=True):
        end = row.length + new
        keys, values = row.storage(layer, key, value, end, pool)
        keys[:, :, row.length : end] = key[b : b + 1, :, start : start + new]
        values[:, :, row.length : end] = value[b : b + 1, :, start : start + new]
        mask = None  # SDPA's own causal mask, aligned at position 0
        if row.length and new > 1:  # the rest of a prompt after a shared prefix: causal, offset by it
            mask = torch.ones(new, end, dtype=torch.bool).tril(row.length)[None, None]
        out, _ = sdpa_attention_forward(module, query[b : b + 1, :, start : start + new], keys[:, :, :end],
                                        values[:, :, :end], mask, dropout=dropout, scaling=scaling)
        outputs.append(out)  # [1, new, heads, head_dim]
    if len(outputs) == 1:
        return outputs[0], None
    return torch.cat(outputs, dim=1 if harness_rows.packed else 0), None


AttentionInterface.register(ATTENTION, _rowwise_attention)
# Masks as for SDPA: `generate` on a padded batch needs them (a decoder step ignores the mask it is given).
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def _rowwise_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    # Exact mode: a decode step ([rows, 1, features]) runs the single-row kernel per row, as each row
    # alone would; a matrix larger than L2 goes block of output features by block, each block hot for
    # all rows (an output feature is one dot product: it does not depend on the block it is in).
    rows = x.shape[0]
    if _MODE.get() != "exact" or x.dim() != 3 or rows == 1 or x.shape[1] != 1:
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


def install(model: Any, exact: bool, packed_weights: bool = False) -> bool:
    """Route the model's attention through the function above and its linear layers through the exact
    mode's (above) or, when asked, the batched mode's packed ones (packed.py); once per model. True when
    packed."""
    model.set_attn_implementation(ATTENTION)
    if not exact:
        return packed.install(model) if packed_weights else False
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and not hasattr(module, "_harness_blocks"):
            module._harness_blocks = _blocks(module)  # type: ignore[assignment]
            module.forward = types.MethodType(_rowwise_linear, module)  # type: ignore[method-assign]
    return False
