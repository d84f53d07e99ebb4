"""An imported run's provider: the logged answers of the replay docs a suite holds, keyed exactly as
the run will ask for them (the same request mapping and token cap as a live run)."""

from __future__ import annotations

import json
from typing import Any

from harness.config.profiles import Profile
from harness.providers.base import GenRequest, GenResult, ProviderInfo, ToolCall
from harness.providers.logged import LoggedProvider
from harness.run.lm_adapter import to_request
from harness.traffic.replay import ReplayRequest, decoding, logged_output_tokens


def _result(logged: dict[str, Any]) -> GenResult:
    answer = logged["answer"]
    calls = tuple(ToolCall(name=c["name"], arguments=c["arguments"]) for c in answer.get("tool_calls") or [])
    return GenResult(key="", text=answer.get("content") or "", finish_reason=logged.get("finish_reason"),
                     input_tokens=logged.get("input_tokens"), output_tokens=logged.get("output_tokens"),
                     fingerprint=logged.get("system_fingerprint"), model_reported=logged.get("model"),
                     tool_calls=calls)


def logged_provider(profile: Profile, loaded: dict[str, Any]) -> LoggedProvider:
    """A provider answering from the `logged` field of every replay doc in the loaded tasks."""
    answers: dict[str, GenResult] = {}
    for task in loaded["tasks"].values():
        defaults = task.config.generation_kwargs or {}
        for doc in task.eval_docs:
            if not doc.get("logged"):
                continue
            request = ReplayRequest(doc["request"])
            asked = to_request(request, decoding(request.body(), defaults, logged_output_tokens(doc)),
                               profile.generation.max_tokens, profile.generation.seed)
            answers[asked.key()] = _result(json.loads(doc["logged"]))
            if asked.is_structured():
                answers[asked.key()].json_decoding = "api"  # the incumbent's own JSON mode or tool calling
    info = ProviderInfo(name=profile.name, kind="imported", model=profile.model, revision=profile.revision,
                        capabilities=dict(profile.capabilities),
                        details={"source": "imported", "latency_basis": "request"},
                        sends=frozenset(GenRequest.OPTIONAL_FIELDS))
    return LoggedProvider(info, answers)
