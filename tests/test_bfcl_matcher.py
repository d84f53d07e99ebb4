"""Our BFCL matcher gives bfcl-eval's own AST checker's verdict, on every item of the four scored
categories, for the gold answer and for eleven ways of getting it wrong (or right in a way BFCL
allows: case and spacing, an optional argument left out or passed at its default, calls reordered).

bfcl-eval's checker is run from the real wheel (bfcl-eval==2026.3.23, the one the data packs come
from), unzipped into a temp folder. Its `constants.model_config` imports every vendor SDK BFCL can
drive (anthropic, cohere, mistralai, google-genai, ...), so that one module is replaced by the only
thing the checker reads from it: a model name -> config lookup whose entries do not rewrite names.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.traffic import bfcl
from harness.traffic.toolmatch import fits_possible_answers, parse_calls

CATEGORIES = {"simple_python": "BFCL_v4_simple_python.json", "multiple": "BFCL_v4_multiple.json",
              "parallel": "BFCL_v4_parallel.json", "parallel_multiple": "BFCL_v4_parallel_multiple.json"}


@pytest.fixture(scope="module")
def bfcl_eval(tmp_path_factory: pytest.TempPathFactory) -> tuple[Callable[..., dict], Any, Path]:
    """(ast_checker, Language, the wheel's data folder)."""
    folder = tmp_path_factory.mktemp("bfcl")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                    "--dest", str(folder), "bfcl-eval==2026.3.23"], check=True, timeout=600)
    with zipfile.ZipFile(next(folder.glob("*.whl"))) as wheel:
        wheel.extractall(folder / "site")
    config = types.ModuleType("bfcl_eval.constants.model_config")

    class Plain:
        underscore_to_dot = False

    class Lookup(dict):
        def __missing__(self, name: str) -> Plain:
            return Plain()

    config.MODEL_CONFIG_MAPPING = Lookup()  # type: ignore[attr-defined]
    sys.path.insert(0, str(folder / "site"))
    sys.modules["bfcl_eval.constants.model_config"] = config
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

        yield ast_checker, Language, folder / "site" / "bfcl_eval" / "data"
    finally:
        sys.path.remove(str(folder / "site"))
        for name in [m for m in sys.modules if m.startswith("bfcl_eval")]:
            del sys.modules[name]


def _first(alternatives: list[Any]) -> Any:
    value = next(x for x in alternatives if x != "")
    if isinstance(value, dict):
        return {k: _first(a) for k, a in value.items() if any(x != "" for x in a)}
    return value


def _gold(ground_truth: list[dict], functions: list[dict]) -> list[dict]:
    declared = {f["name"]: f["parameters"].get("properties", {}) for f in functions}
    return [{name: {k: _first(v) for k, v in args.items()
                    if any(x != "" for x in v) and not ("" in v and k not in declared.get(name, {}))}}
            for call in ground_truth for name, args in call.items()]


def _numbers(args: dict, kind: type) -> list[str]:
    return [k for k, v in args.items() if isinstance(v, kind) and not isinstance(v, bool)]


def _wrong(output: list[dict], functions: list[dict], rng: random.Random, kind: str) -> list[dict] | None:
    """The gold output changed one way; None when the item has nothing to change that way."""
    out = copy.deepcopy(output)
    call = out[rng.randrange(len(out))]
    (name, args), = call.items()
    declared = next(f for f in functions if f["name"] == name)["parameters"].get("properties", {})
    keys = {"number": _numbers(args, int | float), "int_to_float": _numbers(args, int),
            "float_to_int": [k for k in _numbers(args, float) if args[k] == int(args[k])],
            "case": [k for k, v in args.items() if isinstance(v, str)], "drop": sorted(args)[:1],
            "add_optional": [k for k in declared if k not in args and "default" in declared[k]],
            "as_text": _numbers(args, int | float)}.get(kind)
    if keys is not None and not keys:
        return None
    change: dict[str, Callable[[], None]] = {
        "number": lambda: args.update({keys[0]: args[keys[0]] + 1}),
        "int_to_float": lambda: args.update({keys[0]: float(args[keys[0]])}),
        "float_to_int": lambda: args.update({keys[0]: int(args[keys[0]])}),
        "case": lambda: args.update({keys[0]: args[keys[0]].upper() + " "}),
        "drop": lambda: args.pop(keys[0]),
        "add_optional": lambda: args.update({keys[0]: declared[keys[0]]["default"]}),
        "as_text": lambda: args.update({keys[0]: str(args[keys[0]])}),
        "extra": lambda: args.update({"unexpected_param": 1}),
        "rename": lambda: call.update({f"{name}_x": call.pop(name)}),
        "reorder": lambda: out.reverse(),
        "repeat": lambda: out.append(copy.deepcopy(out[0])),
    }
    if kind == "reorder" and len(out) < 2:
        return None
    change[kind]()
    return out


KINDS = ("number", "int_to_float", "float_to_int", "case", "drop", "add_optional", "as_text", "extra", "rename",
         "reorder", "repeat")


def test_our_verdicts_are_bfcl_eval_s(bfcl_eval: tuple[Callable[..., dict], Any, Path]) -> None:
    ast_checker, language, data = bfcl_eval
    rng = random.Random(0)
    compared, disagreements, passed = 0, [], 0
    for category, file_name in CATEGORIES.items():
        items = [json.loads(line) for line in (data / file_name).read_text().splitlines()]
        answers = [json.loads(line) for line in (data / "possible_answer" / file_name).read_text().splitlines()]
        for item, answer in zip(items, answers, strict=True):
            doc = bfcl.to_doc(item, answer)
            tools, possible = json.loads(doc["request"])["tools"], json.loads(doc["possible"])
            gold = _gold(answer["ground_truth"], item["function"])
            outputs = [("gold", gold)] + [(kind, _wrong(gold, item["function"], rng, kind)) for kind in KINDS]
            for kind, output in outputs:
                if output is None:
                    continue
                theirs = ast_checker(item["function"], output, answer["ground_truth"], language.PYTHON, category,
                                     "gpt-4o-2024-11-20")["valid"]
                calls = parse_calls([{"name": bfcl.api_name(name), "arguments": json.dumps(arguments)}
                                     for call in output for name, arguments in call.items()])
                ours = fits_possible_answers(calls, possible, tools)
                compared, passed = compared + 1, passed + theirs
                if ours != theirs:
                    disagreements.append((item["id"], kind, ours, theirs))
    print(f"{compared} outputs compared, {passed} valid by bfcl-eval, {len(disagreements)} disagreements")
    assert compared > 7000 and 1000 < passed < compared - 1000  # both verdicts are well represented
    assert disagreements == []


def test_irrelevance_passes_only_without_a_call() -> None:
    item = {"id": "irrelevance_x", "question": [[{"role": "user", "content": "How tall is Everest?"}]],
            "function": [{"name": "bmi.compute", "description": "BMI", "parameters": {
                "type": "dict", "properties": {"weight": {"type": "float"}}, "required": ["weight"]}}]}
    doc = bfcl.to_doc(item, None)
    tools, possible = json.loads(doc["request"])["tools"], json.loads(doc["possible"])
    assert tools[0]["function"]["name"] == "bmi_compute"
    assert tools[0]["function"]["parameters"]["properties"]["weight"]["type"] == "number"
    assert fits_possible_answers([], possible, tools)
    assert not fits_possible_answers(parse_calls([{"name": "bmi_compute", "arguments": '{"weight": 70}'}]),
                                     possible, tools)
