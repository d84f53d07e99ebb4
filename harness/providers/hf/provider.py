"""The `hf` provider: a local model through transformers (+ accelerate for device_map).

On CPU, supported models decode with `RowwiseDecoder` (decode.py): continuous batching with no
padding, or with `exact = true` answers bit for bit those of the prompt alone. Other models and devices use
`model.generate` on batches grouped by decoding settings, sorted by prompt length and left-padded.
Either way a sequence stops at EOS or a stop string, and stop strings are cut here, not by the caller.
A prompt longer than the model's context is refused per sample, and no answer runs past the context
(context.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.config.profiles import Profile
from harness.digest import sha256_hex
from harness.errors import HarnessError
from harness.providers.base import GenRequest, GenResult, ProviderInfo, ToolCall, cut_at_stop
from harness.providers.hf.context import ContextGuard
from harness.providers.hf.grammar import Grammars, Held, MaskRows, RowMatcher, held
from harness.providers.hf.jobs import Job
from harness.providers.hf.tools import chat_for_template, parse_tool_calls, template_knows_tools
from harness.providers.hf.weights import resolve_weights

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


class HFProvider:
    """transformers model + tokenizer; `generate` yields results as they finish."""

    def __init__(self, profile: Profile) -> None:
        settings = profile.hf
        assert settings is not None
        weights = resolve_weights(profile)
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(weights.folder)
        if profile.chat_template and not self.tokenizer.chat_template:
            raise HarnessError(
                f"provider '{profile.name}': {profile.model} has no chat template; "
                "set chat_template = false in its profile (a base model gets raw prompts)"
            )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # The slow part (seconds to minutes), said once the inputs are known good.
        logging.getLogger("harness.notice").info(f"loading model {profile.model} from {weights.folder} ...")
        self.model = AutoModelForCausalLM.from_pretrained(
            weights.folder,
            dtype=_DTYPES[settings.dtype],
            device_map=settings.device_map,
            trust_remote_code=settings.trust_remote_code,
        ).eval()
        self.batch_size = settings.batch_size
        self.context = ContextGuard.of(self.model.config, self.tokenizer)
        self.eos_ids = _as_set(self.model.generation_config.eos_token_id) | _as_set(self.tokenizer.eos_token_id)
        self.decoder = _rowwise_decoder(self.model, self.tokenizer, self.batch_size, self.eos_ids, settings.exact,
                                        settings.packed_weights)
        self.constrained = settings.constrained_decoding
        self._grammars: Grammars | None = None  # built on the first request a grammar holds
        template = self.tokenizer.chat_template or ""
        self.knows_tools = template_knows_tools(template)
        self.info = ProviderInfo(
            name=profile.name,
            kind="hf",
            model=profile.model,
            revision=weights.revision,
            capabilities=dict(profile.capabilities),
            # Tools go through the chat template (or the fallback format) and calls are parsed from the
            # text; JSON formats and required calls are asked for in the prompt and, unless the profile
            # turns it off, held by a grammar (hf/tools.py, hf/grammar.py).
            details={
                "dtype": str(self.model.dtype).removeprefix("torch."),
                "device": str(self.model.device),
                "batch_size": self.batch_size,
                "context_length": self.context.tokens,  # longer prompts are refused (errors of kind context_length)
                "padding_side": "left" if self.decoder is None else None,  # rowwise decoding pads nothing
                "weights_source": weights.source,
                "chat_template_hash": sha256_hex(template, 16) if template else None,
                "tools_rendering": "chat template" if self.knows_tools else "fallback (Hermes tags)",
                # What holds JSON formats and required tool calls (json_decoding per sample says the same).
                "structured_output": "unconstrained" if self.constrained == "off"
                else f"constrained:{self.constrained}",
                "torch_threads": torch.get_num_threads(),
                "decoding": "generate" if self.decoder is None else f"rowwise-{self.decoder.mode}",
                "linear_layers": "BLAS" if self.decoder is None else self.decoder.linear_layers,
                # An offline batch engine: a sample's time is shared with its batch, not a request's latency.
                "latency_basis": "batch",
            },
        )

    def _encode(self, request: GenRequest) -> list[int] | None:
        """The prompt's token ids; None for a text that cannot fit the context (never tokenised in full)."""
        text, special = request.prompt or "", True
        if request.messages is not None:
            messages, tools = chat_for_template(request, self.knows_tools)
            prefill = messages[-1]["role"] == "assistant"
            text = str(self.tokenizer.apply_chat_template(
                messages, tools=tools, tokenize=False, add_generation_prompt=not prefill,
                continue_final_message=prefill))
            special = False  # the rendered template already carries its special tokens: no second BOS

        def tokenize(part: str) -> list[int]:
            return list(self.tokenizer(part, add_special_tokens=special)["input_ids"])

        return self.context.encode(text, tokenize)

    def generate(self, requests: Sequence[GenRequest]) -> Iterator[GenResult]:
        """Yield one GenResult per request as each finishes (not in request order); a prompt longer than
        the context comes back at once as a `context_length` error, and the others are still answered."""
        encoded: list[tuple[GenRequest, list[int]]] = []
        for req in requests:
            ids = self._encode(req)
            if ids is None or self.context.too_long(len(ids)):
                yield GenResult(key=req.key(), text="", error=self.context.error,
                                input_tokens=None if ids is None else len(ids))
            else:
                encoded.append((req, ids))
        if not encoded:
            return
        if self.decoder is not None:
            # Key/value buffers are sized from max_tokens: capped, they never pass the context.
            jobs = [Job(ids=ids, max_tokens=self.context.room(len(ids), req.max_tokens), stop=req.stop,
                        temperature=req.temperature, seed=req.seed, tag=req, grammar=self._matcher(req))
                    for req, ids in encoded]
            for done in self.decoder.run(jobs):
                ended = done.finish == "eos"
                yield self._result(done.job.tag, len(done.job.ids), done.tokens, ended, done.latency_ms,
                                   done.queue_ms)
            return

        def settings(item: tuple[GenRequest, list[int]]) -> tuple:
            req = item[0]
            return (req.stop, req.temperature, req.seed)

        # Same decoding settings share a batch; within a group, longest prompts first.
        encoded.sort(key=lambda item: (settings(item), -len(item[1])))
        submitted = time.perf_counter()
        for _, group in groupby(encoded, key=settings):
            items = list(group)
            for start in range(0, len(items), self.batch_size):
                yield from self._generate_batch(items[start : start + self.batch_size], submitted)

    def _held(self, req: GenRequest) -> Held | None:
        return None if self.constrained == "off" else held(req)

    def _matcher(self, req: GenRequest) -> RowMatcher | None:
        """A fresh grammar state for this request's answer, or None where nothing holds it."""
        what = self._held(req)
        if what is None:
            return None
        if self._grammars is None:
            self._grammars = Grammars(self.constrained, self.tokenizer, self.model.config.vocab_size, self.eos_ids)
        return self._grammars.matcher(what)

    def _json_decoding(self, req: GenRequest) -> str | None:
        """How a JSON format or a required call was held: by a grammar, or asked for in the prompt only;
        None for an answer nothing asked to hold (free text, or tools under "auto")."""
        if self._held(req) is not None:
            return f"constrained:{self.constrained}"
        required = req.tools is not None and held(req) is not None
        return "unconstrained" if req.response_format is not None or required else None

    def _result(self, req: GenRequest, n_input: int, generated: list[int], ended: bool,
                latency_ms: float, queue_ms: float) -> GenResult:
        # Tool-call markers can be special tokens ([TOOL_CALLS], <|python_tag|>): kept for the parser.
        wants_calls = req.tools is not None and req.tool_choice != '"none"'
        text = str(self.tokenizer.decode(generated, skip_special_tokens=not wants_calls))
        text, stopped = cut_at_stop(text, req.stop)
        calls: tuple[ToolCall, ...] = ()
        if wants_calls:
            text, calls = parse_tool_calls(text)
        finish = "tool_calls" if calls else "stop" if stopped or ended else "length"
        return GenResult(
            key=req.key(),
            text=text,
            tool_calls=calls,
            json_decoding=self._json_decoding(req),
            finish_reason=finish,
            input_tokens=n_input,
            output_tokens=len(generated) + (1 if ended else 0),
            latency_ms=latency_ms,
            queue_ms=queue_ms,
        )

    @torch.inference_mode()
    def _generate_batch(self, batch: list[tuple[GenRequest, list[int]]], submitted: float) -> Iterator[GenResult]:
        first = batch[0][0]
        encoding = self.tokenizer.pad({"input_ids": [ids for _, ids in batch]}, return_tensors="pt")
        padded = {k: v.to(self.model.device) for k, v in encoding.items()}
        # Left-padded, every row runs to the longest prompt plus max_new_tokens: cap that at the context.
        longest = padded["input_ids"].shape[1]
        kwargs: dict = {"max_new_tokens": self.context.room(longest, max(req.max_tokens for req, _ in batch))}
        if first.stop:
            kwargs.update(stop_strings=list(first.stop), tokenizer=self.tokenizer)
        if first.temperature > 0:
            torch.manual_seed(first.seed or 0)
            kwargs.update(do_sample=True, temperature=first.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        matchers = [self._matcher(req) for req, _ in batch]
        if any(matchers):
            kwargs["logits_processor"] = [MaskRows(matchers, min(self.eos_ids))]
        started = time.perf_counter()
        output = self.model.generate(**padded, pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        latency_ms = (time.perf_counter() - started) * 1000
        new_tokens = output[:, padded["input_ids"].shape[1] :]
        for (req, ids), row in zip(batch, new_tokens.tolist(), strict=True):
            row = row[: req.max_tokens]
            ended = next((i for i, tok in enumerate(row) if tok in self.eos_ids), None)
            generated = row if ended is None else row[:ended]
            yield self._result(req, len(ids), generated, ended is not None, latency_ms,
                               (started - submitted) * 1000)


def _rowwise_decoder(model: Any, tokenizer: Any, batch_size: int, eos_ids: set[int], exact: bool,
                     packed_weights: bool = False) -> Any:
    """The rowwise decoder where the model supports it, else None (the `generate` path). Its imports
    reach into transformers internals; if a release has moved them, every run still works, on
    `model.generate`, and says so in one warning line."""
    try:
        from harness.providers.hf.decode import RowwiseDecoder, supports
    except ImportError as exc:
        import transformers

        logging.getLogger(__name__).warning(
            "rowwise decoding needs transformers internals that %s lacks (%s); decoding with model.generate",
            transformers.__version__, exc)
        return None
    return RowwiseDecoder(model, tokenizer, batch_size, eos_ids, exact, packed_weights) if supports(model) else None


def _as_set(value: int | list[int] | None) -> set[int]:
    if value is None:
        return set()
    return {value} if isinstance(value, int) else set(value)


def create(profile: Profile) -> HFProvider:
    """Registry factory for kind 'hf'."""
    return HFProvider(profile)
