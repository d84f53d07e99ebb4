"""Next tokens for several rows from one output-layer matmul, certified equal to the one-row result.

The output layer (vocab x hidden) is the largest matrix of a small model; run once per row it costs a
third of a decode step. One batched matmul reads it once but rounds differently from the single-row
kernel, so its argmax is trusted only where the gap to the runner-up is wider than rounding can move:
a K-term dot product computed in any order is within gamma_K * sum|x_k w_k| of the exact value
(gamma_K = K u / (1 - K u), u the unit roundoff), so two computations differ by at most
b = 2 gamma_K ||x||_2 max_j ||w_j||_2 (Cauchy-Schwarz), and a gap wider than 2b keeps the winner.
Rows with a narrower gap, sampled rows and single rows take the single-row kernel, as alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class OutputHead:
    """The model's output layer, applied per row (exact) or to all greedy rows at once (certified)."""

    def __init__(self, layer: torch.nn.Linear) -> None:
        self.weight, self.bias = layer.weight, layer.bias
        dim = self.weight.shape[1]
        unit = torch.finfo(self.weight.dtype).eps / 2
        # Low-precision weights (bf16: K u > 1) or a bias give no useful bound: always exact then.
        usable = dim * unit < 0.5 and self.bias is None
        self.gamma = dim * unit / (1 - dim * unit) if usable else math.inf
        self.max_row_norm = float(self.weight.detach().float().norm(dim=1).max()) if usable else math.inf
        self.batched = 0  # greedy tokens taken from the batched matmul
        self.exact = 0  # tokens that needed the single-row kernel

    def logits(self, hidden: torch.Tensor, i: int) -> torch.Tensor:
        """Row i's logits exactly as a batch of one computes them ([1, 1, hidden] in, [vocab] out)."""
        self.exact += 1
        return F.linear(hidden[i : i + 1], self.weight, self.bias)[0, -1]

    def greedy(self, hidden: torch.Tensor) -> list[int]:
        """Argmax per row of hidden [rows, 1, dim]: batched where certified, else row by row."""
        if hidden.shape[0] == 1 or math.isinf(self.gamma):
            return [int(self.logits(hidden, i).argmax()) for i in range(hidden.shape[0])]
        flat = hidden[:, -1, :]
        top = F.linear(flat, self.weight).topk(2, dim=-1)
        bound = 2 * self.gamma * flat.float().norm(dim=-1) * self.max_row_norm
        gap = top.values[:, 0] - top.values[:, 1]
        certain = (gap > 2 * bound) & torch.isfinite(gap)
        tokens = []
        for i, (ok, token) in enumerate(zip(certain.tolist(), top.indices[:, 0].tolist(), strict=True)):
            tokens.append(int(token) if ok else int(self.logits(hidden, i).argmax()))
        self.batched += sum(certain.tolist())
        return tokens
