"""Linear layers for the batched mode through oneDNN with weights packed once, not through sgemm
(`packed_weights = true` in a profile's [hf] table).

`F.linear` on CPU calls the BLAS sgemm; on the bench machine (AVX-512) it runs at about half the rate
oneDNN reaches with the weights reordered once into its own blocked layout (bench/hf_decode_step.py:
the model's linear layers at 32 rows 1.7x faster, prefill 1.8x). Results are fp32 but rounded in
another order, which batched mode allows and exact mode does not: exact mode never packs.

The packed copy replaces the layer's weight. Loading peaks higher: the checkpoint is memory-mapped,
the pages packing reads stay resident until the mapping goes (once the embeddings and norms are
copied out, at the end), so the packed copies and the read pages coexist for a moment. That put the
default smoke eval over its 1.5 GiB budget, so packing is an opt-in. The output layer is left as it
is: its weight is the input embedding's too. Without oneDNN (`torch.backends.mkldnn` unavailable)
nothing is packed."""

from __future__ import annotations

import types
from typing import Any

import torch


def available() -> bool:
    return bool(torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def pack(weight: torch.Tensor) -> torch.Tensor:
    """The weight reordered for oneDNN (an opaque tensor: only `apply` reads it)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None)


def apply(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    out: torch.Tensor = torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")
    return out


def _packed_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return apply(x, self._harness_packed, self.bias)  # type: ignore[arg-type]


def install(model: Any) -> bool:
    """Pack every linear layer's weight but the output layer's (once per model); True when packed."""
    if not available() or next(model.parameters()).dtype != torch.float32:
        return False
    output = model.get_output_embeddings()
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or module is output or hasattr(module, "_harness_packed"):
            continue
        module._harness_packed = pack(module.weight)
        module.weight = torch.nn.Parameter(module.weight.new_empty(0), requires_grad=False)
        module.forward = types.MethodType(_packed_forward, module)  # type: ignore[method-assign]
    # The loaded weights are views of the memory-mapped checkpoint: copying what is left (embeddings,
    # norms) lets the mapping go, so that the pages packing read do not stay beside the packed copies.
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.data = tensor.data.clone()
    return True
