"""The three grammar engines behind one small interface, for bench/constrained_decoding.py.

Each compiles a JSON schema for a tokenizer, and per sequence gives a matcher that writes the allowed
tokens into a packed int32 bitmask (one bit per token: the layout all three share), accepts the chosen
token and says when the grammar is finished. JSON is compact (no free whitespace) in all three, as the
provider asks for it: free whitespace lets a small model loop on newlines until max_tokens.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import torch


class Matcher(Protocol):
    def fill(self, bitmask: torch.Tensor, row: int) -> None: ...
    def accept(self, token: int) -> bool: ...
    def done(self) -> bool: ...


class Engine(Protocol):
    name: str
    version: str

    def compile(self, schema: dict[str, Any]) -> Any: ...
    def matcher(self, compiled: Any) -> Matcher: ...
    def bitmask(self, rows: int) -> torch.Tensor: ...
    def apply(self, logits: torch.Tensor, bitmask: torch.Tensor) -> None: ...


class _XgrMatcher:
    def __init__(self, xgr: Any, compiled: Any) -> None:
        self.xgr, self.m = xgr, xgr.GrammarMatcher(compiled)

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self.m.fill_next_token_bitmask(bitmask, row)

    def accept(self, token: int) -> bool:
        return bool(self.m.accept_token(token))

    def done(self) -> bool:
        return bool(self.m.is_terminated())


class XGrammar:
    name = "xgrammar"

    def __init__(self, tokenizer: Any, vocab_size: int, eos: int) -> None:
        from importlib.metadata import version

        import xgrammar as xgr

        self.xgr, self.version = xgr, version("xgrammar")
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=[eos])
        self.compiler = xgr.GrammarCompiler(info, max_threads=1)
        self.vocab_size = vocab_size

    def compile(self, schema: dict[str, Any]) -> Any:
        return self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)

    def matcher(self, compiled: Any) -> Matcher:
        return _XgrMatcher(self.xgr, compiled)

    def bitmask(self, rows: int) -> torch.Tensor:
        return self.xgr.allocate_token_bitmask(rows, self.vocab_size)

    def apply(self, logits: torch.Tensor, bitmask: torch.Tensor) -> None:
        self.xgr.apply_token_bitmask_inplace(logits, bitmask)


class _LlgMatcher:
    def __init__(self, llg: Any, tokenizer: Any, grammar: str) -> None:
        self.llg, self.m = llg, llg.LLMatcher(tokenizer, grammar)
        if self.m.is_error():
            raise ValueError(self.m.get_error())

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self.llg.torch.fill_next_token_bitmask(self.m, bitmask, row)

    def accept(self, token: int) -> bool:
        return bool(self.m.consume_token(token))

    def done(self) -> bool:
        return bool(self.m.is_stopped())


class LLGuidance:
    name = "llguidance"

    def __init__(self, tokenizer: Any, vocab_size: int, eos: int) -> None:
        from importlib.metadata import version

        import llguidance
        import llguidance.hf
        import llguidance.torch

        self.llg, self.version = llguidance, version("llguidance")
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=eos)

    def compile(self, schema: dict[str, Any]) -> Any:
        grammar = self.llg.LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})
        failed, messages = self.llg.LLMatcher.validate_grammar_with_warnings(grammar, self.tokenizer)
        if failed:
            raise ValueError("; ".join(messages))
        return grammar

    def matcher(self, compiled: Any) -> Matcher:
        return _LlgMatcher(self.llg, self.tokenizer, compiled)

    def bitmask(self, rows: int) -> torch.Tensor:
        return self.llg.torch.allocate_token_bitmask(rows, self.tokenizer.vocab_size)

    def apply(self, logits: torch.Tensor, bitmask: torch.Tensor) -> None:
        self.llg.torch.apply_token_bitmask_inplace(logits, bitmask)


class _OutlinesMatcher:
    def __init__(self, kernels: Any, guide: Any) -> None:
        self.kernels, self.guide = kernels, guide

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self.kernels.fill_next_token_bitmask(self.guide, bitmask[row : row + 1])

    def accept(self, token: int) -> bool:
        try:
            self.guide.advance(token)
        except ValueError:
            return False
        return True

    def done(self) -> bool:
        return bool(self.guide.is_finished())


def _byte_characters() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte (transformers 5 no longer exports it)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = (b for b in range(256) if b not in printable)
    shifted = {byte: chr(256 + i) for i, byte in enumerate(extra)}
    return {b: chr(b) if b in printable else shifted[b] for b in range(256)}


def _byte_level_vocabulary(tokenizer: Any) -> dict[bytes, list[int]]:
    """Token id by the bytes it stands for (GPT-2 byte-level BPE); special tokens left out."""
    decode = {ch: byte for byte, ch in _byte_characters().items()}
    special = set(tokenizer.all_special_ids)
    vocabulary: dict[bytes, list[int]] = {}
    for text, token in tokenizer.get_vocab().items():
        if token not in special and all(ch in decode for ch in text):
            vocabulary.setdefault(bytes(decode[ch] for ch in text), []).append(token)
    return vocabulary


class OutlinesCore:
    name = "outlines-core"

    def __init__(self, tokenizer: Any, vocab_size: int, eos: int) -> None:
        from importlib.metadata import version

        import outlines_core
        import outlines_core.kernels.torch as kernels

        self.oc, self.kernels, self.version = outlines_core, kernels, version("outlines-core")
        self.vocabulary = outlines_core.Vocabulary(eos, _byte_level_vocabulary(tokenizer))
        self.vocab_size = vocab_size

    def compile(self, schema: dict[str, Any]) -> Any:
        from outlines_core.json_schema import build_regex_from_schema

        return self.oc.Index(build_regex_from_schema(json.dumps(schema)), self.vocabulary)

    def matcher(self, compiled: Any) -> Matcher:
        return _OutlinesMatcher(self.kernels, self.oc.Guide(compiled))

    def bitmask(self, rows: int) -> torch.Tensor:
        return torch.zeros(rows, (self.vocab_size + 31) // 32, dtype=torch.int32)

    def apply(self, logits: torch.Tensor, bitmask: torch.Tensor) -> None:
        self.kernels.apply_token_bitmask_inplace(logits, bitmask)


ENGINES = (XGrammar, LLGuidance, OutlinesCore)
