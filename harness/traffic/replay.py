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


# A request logged without a token cap is replayed with room for an answer this many times as long as
# the incumbent's logged one (and never less than the import's --max-tokens): the candidate is not cut
# shorter than the answer it is compared with, and a looping answer still ends. Sending no cap at all
# would leave the length to each server's default (the model's context on vLLM, a few hundred tokens on
# some APIs, none on a local model), which differ between the sides being compared.
CAP_MULTIPLE = 4


def token_cap(body: dict[str, Any], logged_output_tokens: int | None, default: int) -> tuple[int, str, str | None]:
    """(cap, origin, note) for one replayed request: the log's own cap ('logged'); without one, a
    multiple of the incumbent's output ('incumbent_output'); without a logged answer, the import's
    default ('import_default'). The note says what was sent in place of no cap, and why."""
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(cap, int) and cap > 0:
        return cap, "logged", None
    if isinstance(logged_output_tokens, int) and logged_output_tokens > 0:
        sent = max(default, CAP_MULTIPLE * logged_output_tokens)
        return sent, "incumbent_output", (f"max_tokens: none logged, sent {sent} (the larger of {CAP_MULTIPLE}x "
                                          f"the incumbent's {logged_output_tokens} output tokens and the import's "
                                          f"{default})")
    return default, "import_default", f"max_tokens: none logged and no logged answer, sent the import's {default}"


def logged_output_tokens(doc: dict[str, Any]) -> int | None:
    """The incumbent's output tokens for a replay doc, when its answer was logged with usage."""
    logged = json.loads(doc["logged"]) if doc.get("logged") else None
    tokens = logged.get("output_tokens") if isinstance(logged, dict) else None
    return tokens if isinstance(tokens, int) else None


def decoding(body: dict[str, Any], defaults: dict[str, Any], logged_tokens: int | None = None) -> dict[str, Any]:
    """lm-eval generation kwargs for one request: its own token cap (see token_cap; `cap_origin` and
    `cap_note` ride along for the run to store) and stops over the task's defaults. Replays are greedy
    whatever the log's temperature: a paired comparison needs one answer per side (the generation's
    notes say so where the log sampled)."""
    kwargs = dict(defaults)
    cap, origin, note = token_cap(body, logged_tokens, int(defaults.get("max_gen_toks") or 512))
    kwargs.update(max_gen_toks=cap, cap_origin=origin, cap_note=note)
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
        gen_kwargs = decoding(request.body(), self.config.generation_kwargs or {}, logged_output_tokens(doc))
        return Instance(request_type="generate_until", doc=doc, arguments=(request, gen_kwargs), idx=0, **kwargs)
