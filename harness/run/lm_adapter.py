"""A Provider wrapped as an lm-eval `LM`, so lm-eval's tasks, prompts, filters and metrics run unchanged."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.models.api_models import JsonChatStr

from harness.errors import HarnessError
from harness.providers.base import GenRequest, GenResult, Message, Provider, ProviderInfo
from harness.run.distributed import Ranks
from harness.run.replay import Answer, request_from_body
from harness.traffic.replay import ReplayRequest

# Called once per (task, doc) as soon as its generation is back.
ResultSink = Callable[[str, int, GenRequest, GenResult], None]


def to_request(context: Any, gen_kwargs: dict[str, Any], max_tokens_cap: int, seed: int) -> GenRequest:
    """Map lm-eval's (context, gen_kwargs) to a GenRequest: the task's max tokens under the profile's
    cap, greedy unless the task samples (then with the run's seed); a replayed request as logged."""
    until = gen_kwargs.get("until") or []
    stop = (until,) if isinstance(until, str) else tuple(until)
    asked = int(gen_kwargs.get("max_gen_toks") or max_tokens_cap)
    if isinstance(context, ReplayRequest):
        # A whole logged request: tools, formats and all, and its own cap (the log's, or token_cap's), not
        # the profile's benchmark cap: a replay is not cut shorter than the answer it is compared with.
        return request_from_body(context.body(), max_tokens=asked, stop=stop,
                                 cap_origin=gen_kwargs.get("cap_origin"), cap_note=gen_kwargs.get("cap_note"))
    max_tokens = min(asked, max_tokens_cap)
    sampled = bool(gen_kwargs.get("do_sample")) and float(gen_kwargs.get("temperature") or 0) > 0
    temperature = float(gen_kwargs.get("temperature") or 0) if sampled else 0.0
    common: dict[str, Any] = {
        "max_tokens": max_tokens, "stop": stop, "temperature": temperature, "seed": seed if sampled else None,
    }
    if isinstance(context, JsonChatStr):
        history = json.loads(context.prompt)
        messages = tuple(Message(role=m["role"], content=m["content"]) for m in history)
        return GenRequest(messages=messages, **common)
    return GenRequest(prompt=str(context), **common)


def unsent_notes(request: GenRequest, info: ProviderInfo) -> GenRequest:
    """The request with a note for each field it sets that this provider cannot pass on (never
    dropped unsaid); an imported run's answers came from the log as sent, so it gets no notes."""
    if info.kind == "imported":
        return replace(request, notes=(), cap_origin=None)
    unsent = [f"{name}={json.dumps(value)}: not sent ({info.kind} provider cannot pass it on)"
              for name, value in request.api_fields().items()
              if name in GenRequest.OPTIONAL_FIELDS and name not in info.sends]
    return replace(request, notes=request.notes + tuple(unsent)) if unsent else request


class ProviderLM(LM):
    """generate_until only: chat APIs expose no prompt log-probs, so suites are generative."""

    def __init__(self, provider: Provider, sink: ResultSink, max_tokens_cap: int, seed: int,
                 ranks: Ranks | None = None) -> None:
        super().__init__()
        self.provider = provider
        self.sink = sink
        self.max_tokens_cap = max_tokens_cap
        self.seed = seed
        # Told how many (task, doc) results a call will report, e.g. to size a progress bar.
        self.on_requests: Callable[[int], None] | None = None
        # Data parallel (accelerate): lm-eval shards docs by rank and gathers scored samples through
        # the hooks below.
        self.ranks = ranks or Ranks()
        self._rank, self._world_size = self.ranks.rank, self.ranks.world

    @property
    def device(self) -> Any:
        return self.ranks.device

    def all_gather(self, tensor: Any) -> Any:
        return self.ranks.all_gather(tensor)

    def gather_object(self, obj: Any, dst: int = 0) -> Any:
        return self.ranks.gather(obj)

    def barrier(self) -> None:
        self.ranks.barrier()

    @property
    def tokenizer_name(self) -> str:
        return self.provider.info.name

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return str(self.provider.info.details.get("chat_template_hash") or "")

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> Any:
        # The provider renders the messages (an API does it server-side): pass them through as JSON.
        return JsonChatStr(json.dumps(chat_history, ensure_ascii=False))

    def to_request(self, context: Any, gen_kwargs: dict[str, Any]) -> GenRequest:
        return unsent_notes(to_request(context, gen_kwargs, self.max_tokens_cap, self.seed), self.provider.info)

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        gen_requests = [self.to_request(*inst.args) for inst in requests]
        waiting: dict[str, list[Instance]] = defaultdict(list)
        unique: dict[str, GenRequest] = {}
        for inst, req in zip(requests, gen_requests, strict=True):
            waiting[req.key()].append(inst)
            unique.setdefault(req.key(), req)
        if self.on_requests:
            self.on_requests(len(requests))
        answered: dict[str, GenResult] = {}
        for result in self.provider.generate(list(unique.values())):
            answered[result.key] = result
            for inst in waiting[result.key]:
                self.sink(inst.task_name or "", int(inst.doc_id or 0), unique[result.key], result)
        missing = set(unique) - set(answered)
        if missing:
            raise HarnessError(f"provider '{self.provider.info.name}' returned no result for {len(missing)} requests")
        # A replayed request's scorer also reads the answer's tool calls.
        return [Answer(answered[req.key()]) if isinstance(inst.args[0], ReplayRequest) else answered[req.key()].text
                for inst, req in zip(requests, gen_requests, strict=True)]

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        raise HarnessError(_NO_LOGLIKELIHOOD)

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        raise HarnessError(_NO_LOGLIKELIHOOD)


_NO_LOGLIKELIHOOD = (
    "this task scores log-likelihoods; the harness runs generate_until tasks only "
    "(chat APIs expose no prompt log-probs); pick the task's generative variant"
)
