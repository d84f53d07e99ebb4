"""Key/value buffers for the batched mode: one tensor per layer with a slot per row in flight, so that a
decode step attends for many rows in one call per layer instead of one call per row.

Per-row attention calls cost little arithmetic but a fixed overhead each, rows x layers of them per
step (960 at 32 rows on a 30-layer model). The slot tensors are [slots, kv_heads, capacity, head_dim];
a row writes its positions into its own slot, the rows in flight fill slots 0..n-1 (decode.py moves a
row down when one below it leaves), and a decode step attends run by run over neighbouring slots,
each run padded to its longest row and masked: runs split where the padding would cost more than a
call. Capacity follows the longest row in flight (grown ahead of it, shrunk when the long rows have
left). The price is memory: every slot is as long as the longest row (bench/hf_decode_step.py and
the README's local-throughput figures have both sides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

# Capacity grows to the needed length plus this many positions or a quarter more, whichever is more:
# every slot is as long as the longest row, so growing by doubling would mostly hold unused room.
_ROOM = 64
# An attention call's fixed cost, in key positions read (about 40 us against 0.08 us a position for a
# 30-layer, 3-kv-head model on the 2-core machine the bench ran on): above it, one more call is cheaper
# than padding a run to its longest row.
CALL_POSITIONS = 500


@dataclass
class DecodeIndex:
    """Where a decode step's rows sit in the pool (row i in slot i), the position each one writes, and
    the runs of neighbouring slots that attend in one call each, with their masks. Built once per step,
    used by every layer."""

    positions: torch.Tensor  # [rows] the position each row writes this step
    chunks: list[tuple[int, int, int, torch.Tensor | None]]  # (first slot, end slot, length, mask or None)


def _chunks(lengths: list[int]) -> list[tuple[int, int]]:
    """Split slots 0..n-1 into runs of neighbours that attend together. A run reads every key up to
    its longest row (padding), a call costs a fixed overhead: minimise positions read plus
    CALL_POSITIONS per call (dynamic programming over the n+1 cut points)."""
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = 0
        for first in range(end - 1, -1, -1):
            longest = max(longest, lengths[first])
            cost = best[first] + (end - first) * longest + CALL_POSITIONS
            if cost < best[end]:
                best[end], cut[end] = cost, first
    runs, end = [], n
    while end:
        runs.append((cut[end], end))
        end = cut[end]
    return runs[::-1]


class SlotPool:
    """Slot tensors for every layer, the free slots, and the capacity in positions."""

    def __init__(self, model: Any, slots: int) -> None:
        config = model.config
        self.layers = config.num_hidden_layers
        self.kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.dtype = next(model.parameters()).dtype
        self.slots = slots
        self.free = list(range(slots))
        self.capacity = 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def take(self) -> int:
        """The lowest free slot: rows stay packed at the front, so a step spans few free slots."""
        self.free.sort()
        return self.free.pop(0)

    def give(self, slot: int) -> None:
        self.free.append(slot)

    def move(self, source: int, target: int, length: int) -> None:
        """Copy a row's first `length` positions from one slot to another (every layer)."""
        for tensors in (self.keys, self.values):
            for tensor in tensors:
                tensor[target, :, :length] = tensor[source, :, :length]

    def reserve(self, needed: int, limit: int, shrink: bool = False) -> None:
        """Room for `needed` positions in every slot: grown ahead (up to `limit`, the longest the rows
        can reach). With `shrink` (`needed` then covers every row in flight) a capacity over four times
        the need is cut back, once the rows that needed it have left."""
        oversized = shrink and self.capacity > 4 * max(needed, _ROOM)
        if self.capacity and needed <= self.capacity and not oversized:
            return
        capacity = max(needed, min(limit, needed + max(_ROOM, self.capacity // 4)))
        kept = min(self.capacity, capacity)
        shape = (self.slots, self.kv_heads, capacity, self.head_dim)
        # Zeros, not empty memory: a run pads shorter rows with positions no row wrote, and a masked
        # position still enters the product with weight 0, which a NaN in uninitialised memory survives.
        if not self.keys:
            self.keys = [torch.zeros(shape, dtype=self.dtype) for _ in range(self.layers)]
            self.values = [torch.zeros(shape, dtype=self.dtype) for _ in range(self.layers)]
        # Tensor by tensor, each old one freed as soon as it is copied: the pool never exists twice.
        for tensors in (self.keys, self.values):
            for layer, old in enumerate(tensors):
                if old.shape[2] != capacity:
                    tensors[layer] = torch.zeros(shape, dtype=self.dtype)
                    tensors[layer][:, :, :kept] = old[:, :, :kept]
                    del old
        self.capacity = capacity

    def row_buffers(self, layer: int, slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One slot's keys and values as [1, kv_heads, capacity, head_dim] views."""
        return self.keys[layer][slot : slot + 1], self.values[layer][slot : slot + 1]

    @staticmethod
    def index(lengths: list[int]) -> DecodeIndex:
        """The step's index: row i (in slot i, `lengths[i]` positions before the step) writes at its
        length and attends to positions 0..length."""
        chunks = []
        for first, end in _chunks([n + 1 for n in lengths]):
            longest = max(lengths[first:end]) + 1
            mask = None
            if any(n + 1 != longest for n in lengths[first:end]):
                attend = torch.tensor(lengths[first:end]) + 1
                mask = (torch.arange(longest)[None, :] < attend[:, None])[:, None, None, :]
            chunks.append((first, end, longest, mask))
        return DecodeIndex(positions=torch.tensor(lengths), chunks=chunks)

    def decode_attention(self, layer: int, index: DecodeIndex, query: torch.Tensor, key: torch.Tensor,
                         value: torch.Tensor, scaling: float | None) -> torch.Tensor:
        """Write each row's new key and value into its slot, then attend run by run.
        query [rows, heads, 1, head_dim]; returns [rows, 1, heads, head_dim] as transformers expects."""
        keys, values = self.keys[layer], self.values[layer]
        rows, heads, _, dim = query.shape
        slots = torch.arange(rows)
        keys[slots, :, index.positions] = key[:, :, 0]
        values[slots, :, index.positions] = value[:, :, 0]
        group = heads // self.kv_heads
        outputs = []
        for first, end, length, mask in index.chunks:
            # Grouped-query attention as [rows, kv_heads, group, dim] queries: each kv head's keys read once.
            grouped = query[first:end].reshape(end - first, self.kv_heads, group, dim)
            outputs.append(F.scaled_dot_product_attention(grouped, keys[first:end, :, :length],
                                                          values[first:end, :, :length], attn_mask=mask,
                                                          scale=scaling))
        out = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
        return out.view(rows, heads, 1, dim).transpose(1, 2)
