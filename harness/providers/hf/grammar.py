"""Constrained decoding for the `hf` provider: what a request's grammar is, compiled once per run, and
one matcher per sequence that masks its logits at every step.

Engine: xgrammar (the default of vLLM, SGLang, TensorRT-LLM and MLC; chosen on bench/constrained_decoding.py,
see docs/constrained-decoding.md). What is held:

- `json_schema`: the schema (compact JSON: free whitespace lets a small model loop on newlines);
- `json_object`: any JSON object;
- tools with `tool_choice` "required" or a named function: one call in the Hermes format that
  `tools.parse_tool_calls` reads first, `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`,
  its name one of the offered functions (the named one) and its arguments valid under that function's
  parameters. Under "auto" nothing is held: whether to call stays the model's choice, as on vLLM and
  SGLang, which constrain "auto" only when asked to.

A request with both a JSON format and a required call is held to the call (the format then governs
the content, which a call leaves empty); with tools under "auto" a format is not held either (it would
forbid the call). Each distinct grammar is compiled once per run (cache by its hash).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from harness.digest import sha256_hex
from harness.providers.base import GenRequest

ENGINES = ("xgrammar",)
_CALL_OPEN, _CALL_CLOSE = "<tool_call>\n", "\n</tool_call>"


@dataclass(frozen=True)
class Held:
    """What a request's answer is held to: kind ("json" or "tool_call") and the grammar's spec."""

    kind: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return sha256_hex(json.dumps([self.kind, self.spec], sort_keys=True), 32)


def _call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "object", "properties": {"name": {"const": function["name"]}, "arguments": parameters},
            "required": ["name", "arguments"], "additionalProperties": False}


def held(request: GenRequest) -> Held | None:
    """What constrained decoding holds this request's answer to; None where nothing is."""
    choice = json.loads(request.tool_choice) if request.tool_choice else None
    if request.tools and (choice == "required" or isinstance(choice, dict)):
        tools = json.loads(request.tools)
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            tools = [t for t in tools if t["function"]["name"] == wanted] or tools
        return Held("tool_call", {"anyOf": [_call_schema(t) for t in tools]})
    if request.tools and choice != "none":
        return None  # "auto": a call or an answer, the model's choice; a format grammar would forbid calls
    response_format = json.loads(request.response_format) if request.response_format else None
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return Held("json", schema)
    if response_format.get("type") == "json_object":
        return Held("json", {"type": "object"})
    return None


class RowMatcher:
    """One sequence's grammar state: masks its logits, accepts its tokens, says when it must end."""

    def __init__(self, xgr: Any, compiled: Any, vocab_size: int) -> None:
        self._xgr = xgr
        self._matcher = xgr.GrammarMatcher(compiled)
        self._bitmask = xgr.allocate_token_bitmask(1, vocab_size)

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """These logits ([vocab]) with every token the grammar forbids at -inf (in place)."""
        self._matcher.fill_next_token_bitmask(self._bitmask)
        self._xgr.apply_token_bitmask_inplace(logits.view(1, -1), self._bitmask)
        return logits

    def accept(self, token: int) -> None:
        # A refused token is impossible under the mask (greedy or sampled); should a caller skip the
        # mask, the answer is still validated downstream, so the state is left as it was.
        if not self._matcher.is_terminated():
            self._matcher.accept_token(token)

    @property
    def finished(self) -> bool:
        """The grammar is complete and allows nothing more (a stop token has been accepted)."""
        return bool(self._matcher.is_terminated())


class Grammars:
    """The run's grammar engine for one tokenizer: compiles each distinct grammar once."""

    def __init__(self, engine: str, tokenizer: Any, vocab_size: int, stop_ids: Iterable[int]) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown constrained decoding engine {engine!r}; known: {', '.join(ENGINES)}")
        import xgrammar

        self.engine = engine
        self._xgr = xgrammar
        self.vocab_size = vocab_size
        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                                       stop_token_ids=sorted(stop_ids))
        self._compiler = xgrammar.GrammarCompiler(info)
        self._compiled: dict[str, Any] = {}

    @property
    def label(self) -> str:
        """What `json_decoding` records for an answer held by this engine."""
        return f"constrained:{self.engine}"

    def matcher(self, what: Held) -> RowMatcher:
        if what.key not in self._compiled:
            self._compiled[what.key] = self._compile(what)
        return RowMatcher(self._xgr, self._compiled[what.key], self.vocab_size)

    def _compile(self, what: Held) -> Any:
        xgr = self._xgr
        # strict_mode closes objects whose schema leaves additionalProperties open: valid either way,
        # and bounded; "any JSON object" must stay open, so it is compiled without it.
        strict = what.spec != {"type": "object"}
        body = xgr.Grammar.from_json_schema(json.dumps(what.spec), any_whitespace=False, strict_mode=strict)
        if what.kind == "tool_call":
            body = xgr.Grammar.concat(xgr.Grammar.from_ebnf(f"root ::= {json.dumps(_CALL_OPEN)}"), body,
                                      xgr.Grammar.from_ebnf(f"root ::= {json.dumps(_CALL_CLOSE)}"))
        return self._compiler.compile_grammar(body)


class MaskRows:
    """A `model.generate` logits processor: row i of the batch held by matchers[i] (None: free). A row
    that has finished its grammar may only end (its first stop token), as in the rowwise decoder."""

    def __init__(self, matchers: list[RowMatcher | None], stop_id: int) -> None:
        self.matchers, self.stop_id, self._started = matchers, stop_id, False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, matcher in enumerate(self.matchers):
            if matcher is None:
                continue
            if self._started:
                matcher.accept(int(input_ids[row, -1]))
            if matcher.finished:
                ended = torch.full_like(scores[row], float("-inf"))
                ended[self.stop_id] = 0.0
                scores[row] = ended
            else:
                matcher.mask(scores[row])
        self._started = True
        return scores
