"""The API features a workload can lean on: what suites declare they need, profiles declare, and
`harness probe` measures. One vocabulary for all three."""

from __future__ import annotations

from typing import Literal, get_args

# Features a suite can require (and a profile can declare).
Feature = Literal[
    "system_prompt", "stop_sequences", "json_mode", "json_schema", "tools", "logprobs", "seed", "streaming", "n"
]
# Everything a probe measures: the features plus limits every client depends on.
Capability = Literal[
    "system_prompt", "stop_sequences", "json_mode", "json_schema", "tools", "logprobs", "seed", "streaming", "n",
    "max_tokens", "context_length", "usage",
]
FEATURES: tuple[str, ...] = get_args(Feature)
CAPABILITIES: tuple[str, ...] = get_args(Capability)
ProbeStatus = Literal["pass", "fail", "unsupported", "error"]
