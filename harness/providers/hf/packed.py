"""Linear layers for the batched mode through oneDNN with weights packed once, not through sgemm.

`F.linear` on CPU calls the BLAS sgemm, which repacks the weight matrix at every call; on the bench
machine (AVX-512) it ran a decode step's linear layers at about half the rate oneDNN reaches with
weights reordered once into its own blocked layout (bench/hf_decode_step.py: the model's linear
layers alone at 32 rows 2.3x faster, prefill-sized inputs likewise). Results are fp32 but rounded in
another order, which is allowed in batched mode and not in exact mode: exact mode never packs.

The packed copy replaces the layer's weight (no second copy stays in memory). The output layer is left
as it is: its weight is the input embedding's too, and a packed copy beside it would cost 113 MB of
the smoke eval's 1.5 GiB budget for about 4% of the core bench's time. Without oneDNN
(`torch.backends.mkldnn` unavailable) nothing is packed.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import types
from typing import Any

import torch

_MADV_DONTNEED = 4
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


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


def _drop_pages(tensor: torch.Tensor) -> None:
    """Give the memory pages wholly inside a weight nothing reads any more back to the system now.
    The weights are views of one memory-mapped checkpoint, kept mapped until the last view goes; the
    pages packing has read would otherwise stay resident beside their packed copies (peak memory
    twice the linear layers). Linux only; elsewhere the pages go when the mapping does."""
    if not sys.platform.startswith("linux"):
        return
    page = mmap.PAGESIZE
    start = -(-tensor.data_ptr() // page) * page
    end = (tensor.data_ptr() + tensor.untyped_storage().nbytes()) // page * page
    if end > start and _LIBC is not None:
        _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_DONTNEED)


def install(model: Any) -> bool:
    """Pack every linear layer's weight but the output layer's (once per model); True when packed."""
    if not available() or next(model.parameters()).dtype != torch.float32:
        return False
    output = model.get_output_embeddings()
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or module is output or hasattr(module, "_harness_packed"):
            continue
        module._harness_packed = pack(module.weight)
        original, module.weight = module.weight, torch.nn.Parameter(module.weight.new_empty(0), requires_grad=False)
        _drop_pages(original)
        del original
        module.forward = types.MethodType(_packed_forward, module)  # type: ignore[method-assign]
    return True
