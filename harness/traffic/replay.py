"""Replayed requests inside lm-eval: a task whose docs are whole chat requests.

lm-eval builds a prompt from `doc_to_text` and hands the model (context, gen_kwargs). A logged
request is more than a prompt (system turns, tool calls and results, tools, a response format), so a
replay task hands over the request itself: `ReplayRequest` is the request's canonical JSON text (a
str, so lm-eval hashes and logs it like any prompt) that the harness's model adapter recognises and
turns into a GenRequest with nothing dropped. Scoring (`process_results`) sees the answer's tool calls
as well as its text (see `harness.traffic.score`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from harness.traffic.score import score_doc


class ReplayRequest(str):
    """A chat request body (messages, tools, tool_choice, response_format, max_tokens, stop) as JSON."""

    __slots__ = ()

    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self)
        return value


def decoding(body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """lm-eval generation kwargs for one request: its own token cap and stops over the task's defaults.
    Replays are greedy whatever the log's temperature: a paired comparison needs one answer per side."""
    kwargs = dict(defaults)
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(cap, int) and cap > 0:
        kwargs["max_gen_toks"] = cap
    stop = body.get("stop")
    if stop:
        kwargs["until"] = [stop] if isinstance(stop, str) else list(stop)
    kwargs.update(do_sample=False, temperature=0.0)
    return kwargs


def load_docs(path: Path) -> Any:
    """A replay task's docs (one JSON object per line) as the dataset lm-eval reads."""
    import datasets

    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def process_results(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return score_doc(doc, results[0])


class ReplayTask(ConfigurableTask):
    """An lm-eval task over replay docs (`request`, `kind`, `expected`...; see harness.traffic.docs)."""

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        # lm-eval passes the YAML's own `class` key along; the task config does not know it. Scores
        # come from our scorer (set here, so lm-eval does not look the metric names up as its own).
        cleaned = {k: v for k, v in (config or {}).items() if k != "class"}
        cleaned["process_results"] = process_results
        super().__init__(config=cleaned, **kwargs)

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> Instance:
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        request = ReplayRequest(doc["request"])
        gen_kwargs = decoding(request.body(), self.config.generation_kwargs or {})
        return Instance(request_type="generate_until", doc=doc, arguments=(request, gen_kwargs), idx=0, **kwargs)
