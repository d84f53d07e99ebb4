"""Probes for the local `hf` provider: what the transformers stack does for this model.

Features the harness sends through `generate` (system prompt, stops, max tokens, seeds, usage) are
probed through it, and so are JSON formats and tool calls (asked for in the prompt, or through the
chat template, and parsed from the text: providers/hf/tools.py); features only the stack offers
(log-probs, n > 1, streaming) are probed on the loaded model directly.
"""

from __future__ import annotations

import json
from threading import Thread
from typing import Any

import torch

from harness.config.features import Capability
from harness.probes.common import (
    COUNT_MESSAGES,
    JSON_MESSAGES,
    LONG_MESSAGES,
    PERSON_SCHEMA,
    RANDOM_MESSAGES,
    SYSTEM_MESSAGES,
    SYSTEM_WORD,
    TOOL_MESSAGES,
    WEATHER_TOOL,
    ProbeResult,
    excerpt,
    stop_honoured,
    stop_word,
    valid_person,
)
from harness.providers.base import GenRequest, GenResult, Message, canonical_json
from harness.providers.hf.provider import HFProvider


def _request(messages: list[dict[str, str]], **settings: Any) -> GenRequest:
    return GenRequest(messages=tuple(Message(m["role"], m["content"]) for m in messages), **settings)


class HFProber:
    def __init__(self, provider: HFProvider) -> None:
        self.provider = provider

    def one(self, request: GenRequest) -> GenResult:
        return next(iter(self.provider.generate([request])))

    def run(self) -> list[ProbeResult]:
        return [
            self.usage(), self.max_tokens(), self.stop_sequences(), self.system_prompt(), self.seed(),
            self.json_format("json_mode", {"type": "json_object"}),
            self.json_format("json_schema", {"type": "json_schema", "json_schema": {
                "name": "person", "strict": True, "schema": PERSON_SCHEMA}}),
            self.tools(), self.logprobs(), self.n(), self.streaming(), self.context_length(),
        ]

    def usage(self) -> ProbeResult:
        result = self.one(_request([{"role": "user", "content": "Say hello."}], max_tokens=8))
        ok = (result.input_tokens or 0) > 0 and result.output_tokens is not None
        return ProbeResult("usage", "pass" if ok else "fail", f"prompt {result.input_tokens}, "
                           f"completion {result.output_tokens}", {"response": excerpt(result.text)})

    def max_tokens(self) -> ProbeResult:
        result = self.one(_request(LONG_MESSAGES, max_tokens=3))
        ok = result.finish_reason == "length" and (result.output_tokens or 0) <= 3
        return ProbeResult("max_tokens", "pass" if ok else "fail", f"finish_reason {result.finish_reason}, "
                           f"{result.output_tokens} tokens", {"response": excerpt(result.text)})

    def stop_sequences(self) -> ProbeResult:
        baseline = self.one(_request(COUNT_MESSAGES, max_tokens=48)).text
        word = stop_word(baseline)
        if word is None:
            return ProbeResult("stop_sequences", "error", evidence={"response": excerpt(baseline)})
        text = self.one(_request(COUNT_MESSAGES, max_tokens=48, stop=(word,))).text
        return ProbeResult("stop_sequences", "pass" if stop_honoured(baseline, word, text) else "fail",
                           f"stop {word!r}", {"response": excerpt(text), "without_stop": excerpt(baseline)})

    def system_prompt(self) -> ProbeResult:
        text = self.one(_request(SYSTEM_MESSAGES, max_tokens=10)).text
        return ProbeResult("system_prompt", "pass" if SYSTEM_WORD.lower() in text.lower() else "fail", None,
                           {"request": excerpt(SYSTEM_MESSAGES), "response": excerpt(text)})

    def seed(self) -> ProbeResult:
        texts = [self.one(_request(RANDOM_MESSAGES, max_tokens=16, temperature=1.0, seed=1234)).text
                 for _ in range(2)]
        same = texts[0] == texts[1]
        return ProbeResult("seed", "pass" if same else "fail", "same answer twice" if same else "answers differ",
                           {"response": excerpt(texts)})

    def json_format(self, name: Capability, response_format: dict[str, Any]) -> ProbeResult:
        """Asked for in the prompt and decoded unconstrained: the probe says whether the text is valid."""
        result = self.one(_request(JSON_MESSAGES, max_tokens=80, response_format=canonical_json(response_format)))
        ok, why = valid_person(result.text, strict=name == "json_schema")
        return ProbeResult(name, "pass" if ok else "fail", f"{why} (unconstrained decoding)",
                           {"response": excerpt(result.text)})

    def tools(self) -> ProbeResult:
        rendering = self.provider.info.details.get("tools_rendering")
        result = self.one(_request(TOOL_MESSAGES, max_tokens=64, tools=canonical_json([WEATHER_TOOL]),
                                   tool_choice=canonical_json("auto")))
        ok, why = False, f"no tool call ({rendering})"
        if result.tool_calls:
            call = result.tool_calls[0]
            arguments = call.parsed_arguments()
            ok = call.name == "get_weather" and isinstance(arguments, dict) and isinstance(arguments.get("city"), str)
            why = f"called {call.name}({excerpt(call.arguments)}) ({rendering})"
        return ProbeResult("tools", "pass" if ok else "fail", why,
                           {"response": excerpt(result.text), "tool_calls": excerpt(
                               [json.loads(c.arguments) if c.parsed_arguments() is not None else c.arguments
                                for c in result.tool_calls])})

    def _inputs(self, messages: list[dict[str, str]]) -> dict[str, torch.Tensor]:
        text = self.provider.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        encoded = self.provider.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        return {k: v.to(self.provider.model.device) for k, v in encoded.items()}

    @torch.inference_mode()
    def logprobs(self) -> ProbeResult:
        output = self.provider.model.generate(
            **self._inputs(COUNT_MESSAGES), max_new_tokens=4, do_sample=False, temperature=None, top_p=None,
            top_k=None, output_scores=True, return_dict_in_generate=True,
            pad_token_id=self.provider.tokenizer.pad_token_id)
        scores = self.provider.model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
        values = [round(float(v), 4) for v in scores[0]]
        ok = len(values) > 0 and all(v <= 0 for v in values)
        return ProbeResult("logprobs", "pass" if ok else "fail", f"{len(values)} tokens with log-probs",
                           {"logprobs": excerpt(values)})

    @torch.inference_mode()
    def n(self) -> ProbeResult:
        torch.manual_seed(1234)
        output = self.provider.model.generate(
            **self._inputs(RANDOM_MESSAGES), max_new_tokens=8, do_sample=True, temperature=1.0,
            num_return_sequences=2, pad_token_id=self.provider.tokenizer.pad_token_id)
        count = int(output.shape[0])
        return ProbeResult("n", "pass" if count == 2 else "fail", f"{count} sequences for num_return_sequences=2")

    def streaming(self) -> ProbeResult:
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.provider.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = {**self._inputs(COUNT_MESSAGES), "max_new_tokens": 12, "do_sample": False, "temperature": None,
                  "top_p": None, "top_k": None, "streamer": streamer,
                  "pad_token_id": self.provider.tokenizer.pad_token_id}
        worker = Thread(target=self.provider.model.generate, kwargs=kwargs, daemon=True)
        worker.start()
        chunks = [chunk for chunk in streamer]
        worker.join()
        ok = len(chunks) >= 2 and bool("".join(chunks))
        return ProbeResult("streaming", "pass" if ok else "fail", f"{len(chunks)} chunks",
                           {"response": excerpt("".join(chunks))})

    def context_length(self) -> ProbeResult:
        """Read from the model config (position embeddings); probing it live would cost minutes on a CPU."""
        config = self.provider.model.config
        positions = getattr(config, "max_position_embeddings", None)
        if positions is None:
            return ProbeResult("context_length", "error", evidence={"reason": "no max_position_embeddings in config"})
        return ProbeResult("context_length", "pass", str(positions), {"source": "config.max_position_embeddings"})
