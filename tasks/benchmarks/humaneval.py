"""HumanEval pass@1 with the completion run in the harness sandbox (never in the evaluating process)."""

from __future__ import annotations

from harness.custom.sandbox import SandboxLimits, run_python


def build_program(doc: dict, completion: str) -> str:
    """The code to test. A local model continues the prefilled function (its body ends where the
    fenced block closes); a chat API cannot continue a prefill and answers with a whole fenced
    function, which then replaces the prompt's stub."""
    text = completion.lstrip()
    if text.startswith("```"):
        code = text.split("\n", 1)[1] if "\n" in text else ""
        code = code.split("```")[0]
    else:
        code = completion.split("```")[0]
    if f"def {doc['entry_point']}" in code:
        return doc["prompt"] + "\n    pass\n\n" + code
    return doc["prompt"] + code


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    program = build_program(doc, results[0]) + "\n\n" + doc["test"] + f"\n\ncheck({doc['entry_point']})\n"
    return {"pass@1": 1.0 if run_python(program, SandboxLimits(timeout_s=10)).passed else 0.0}
