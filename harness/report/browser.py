"""The sample browser: one self-contained HTML page with every pair of a comparison side by side.

Everything a pair shows is made text here, in Python: calls as `name(key=value)`, targets readable,
control characters as visible escapes, and a word-level diff of the two answers. The page's own script
only filters, lists and puts that text into the page as text (`textContent`), never as markup. The
data travels gzip-compressed and base64-encoded inside the page (the browser's DecompressionStream
opens it), and a Content-Security-Policy allows only the page's own inline script and style, by hash:
no network, nothing from a sample ever runs, and the page opens from file:// with no server.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from harness.analysis.pairs import OUTCOMES, Browse, Pair
from harness.outputs import HTML_MARK
from harness.report.calls import call_text, calls_text, target_text
from harness.visible import visible

Block = list[str]  # [label, text]

_TEMPLATES = Path(__file__).parent / "templates"
# A word or a punctuation mark with the space after it: half the tokens of splitting spaces apart,
# and no one token (" ") so common that difflib's matcher slows on it (8x faster on 3,000 synthetic pairs).
_WORDS = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")
# Past this many words a side, the diff is left out (difflib is quadratic in the worst case) and the
# page says so; both answers are still shown whole.
DIFF_WORDS = 4000
# Data past this many bytes of JSON travels compressed (see `embedded`).
COMPRESS_ABOVE = 256 * 1024


def _json(value: Any) -> str:
    # One wrapped line: a schema printed one key a line pushes both answers off the screen.
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _turn(message: dict[str, Any]) -> Block:
    role = str(message.get("role", "?"))
    if message.get("tool_call_id"):
        role += f" (result of {message['tool_call_id']})"
    lines = [str(message.get("content") or "")] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        function = call.get("function", call)
        lines.append(call_text(str(function.get("name")), function.get("arguments", {})))
    return [role, "\n".join(lines)]


def _tools(tools: Any) -> Block:
    shown = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        head = str(function.get("name", "?")) + (f": {function['description']}" if function.get("description") else "")
        shown.append(head + "\nparameters: " + _json(function.get("parameters", {})))
    return ["tools offered", "\n\n".join(shown)]


def request_blocks(pair: Pair) -> list[Block]:
    """The request as the candidate got it: turns, then tools, tool choice, format and other fields."""
    blocks = [_turn(m) for m in pair.messages]
    fields = dict(pair.request_fields)
    if "tools" in fields:
        blocks.append(_tools(fields.pop("tools")))
    for name, value in fields.items():
        blocks.append([name.replace("_", " "), value if isinstance(value, str) else _json(value)])
    if pair.target:
        blocks.append(["target", target_text(pair.target)])
    return blocks


def answer_text(side: dict[str, Any]) -> str:
    """An answer as a reader sees it: the text, then each tool call on its own line."""
    parts = [side.get("response") or "", *calls_text(side.get("tool_calls"))]
    return "\n".join(p for p in parts if p)


def _facts(side: dict[str, Any], failure_class: str | None) -> str:
    tokens = f"{side.get('input_tokens') or '?'} in, {side.get('output_tokens') or '?'} out"
    latency = f"{side['latency_ms']:.0f} ms" if side.get("latency_ms") is not None else "latency not recorded"
    facts = [f"class: {failure_class or '?'}", f"finish: {side.get('finish_reason') or '-'}", tokens, latency]
    if side.get("constraint_asked"):
        held = side.get("json_decoding") or "not recorded"
        kept = side.get("constraint_violation") or "kept"
        facts.append(f"{side['constraint_asked']} held by {held}: {kept}")
    if side.get("source") == "imported":
        facts.append("answer from the log")
    return " · ".join(facts)


def side_blocks(side: dict[str, Any], failure_class: str | None) -> list[Block]:
    """One side: what it answered, how it scored, and everything that explains the score."""
    blocks = [["answer", answer_text(side)], ["", _facts(side, failure_class)]]
    scores = side.get("scores") or []
    if scores:
        blocks.append(["scores", "\n".join(f"{name}: {'—' if s is None else f'{s:.3g}'}" for name, s in scores)])
    for label, key in (("error", "error"), ("sent otherwise than logged", "request_notes")):
        if side.get(key):
            blocks.append([label, str(side[key])])
    return blocks


def word_diff(before: str, after: str) -> list[list[str]] | None:
    """[op, text] runs turning `before` into `after` word by word ('=' same, '-' only before, '+' only
    after); None when a side is past DIFF_WORDS words."""
    a, b = _WORDS.findall(before), _WORDS.findall(after)
    if len(a) > DIFF_WORDS or len(b) > DIFF_WORDS:
        return None
    runs: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        pieces = [("=", a[i1:i2])] if op == "equal" else [("-", a[i1:i2]), ("+", b[j1:j2])]
        for mark, words in pieces:
            if not words:
                continue
            if runs and runs[-1][0] == mark:
                runs[-1][1] += "".join(words)
            else:
                runs.append([mark, "".join(words)])
    return runs


def _judged(rows: list[dict[str, Any]]) -> list[Block]:
    blocks = []
    for row in rows:
        agreed = "orders agree" if row.get("consistent") else "orders disagree: a tie"
        head = (f"incumbent shown first: {row.get('verdict_1')}; candidate shown first: {row.get('verdict_2')}; "
                f"outcome: {row.get('outcome')} ({agreed})")
        replies = [f"reply, order {n}:\n{row[f'reply_{n}']}" for n in (1, 2) if row.get(f"reply_{n}")]
        error = [f"error: {row['error']}"] if row.get("error") else []
        blocks.append([f"judge {row.get('judge')}", "\n\n".join([head, *replies, *error])])
    return blocks


def _preview(pair: Pair) -> str:
    users = [m for m in pair.messages if m.get("role") in ("user", "prompt")]
    text = str((users[-1] if users else {}).get("content") or "")
    return " ".join(text.split())[:160]


def _visible(value: Any) -> Any:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, list):
        return [_visible(v) for v in value]
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    return value


def pair_key(candidate_index: int, task: str, doc_id: int) -> str:
    """A pair's name in a permalink (`#pair=...`): the candidate by its place in the page's list (a name
    could be a provider with two runs compared), then task and doc."""
    return f"{candidate_index}|{task}|{doc_id}"


def pair_payload(pair: Pair, candidate_index: int) -> dict[str, Any]:
    """One pair as the page's data: short keys, since a page may hold 10,000 of them."""
    diff = word_diff(answer_text(pair.baseline), answer_text(pair.answer))
    return _visible({
        "k": pair_key(candidate_index, pair.task, pair.doc_id), "c": candidate_index, "t": pair.task, "d": pair.doc_id,
        "o": pair.outcome, "bc": pair.baseline_class or "", "cc": pair.candidate_class or "",
        "u": pair.unsupported or "", "p": _preview(pair), "r": request_blocks(pair),
        "b": side_blocks(pair.baseline, pair.baseline_class), "a": side_blocks(pair.answer, pair.candidate_class),
        "x": diff, "j": _judged(pair.judged),
    })


def payload(data: Browse) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(data.candidates)}
    return {"baseline": data.baseline, "candidates": data.candidates, "suite": data.suite or "",
            "outcomes": list(OUTCOMES), "pairs": [pair_payload(p, index[p.candidate]) for p in data.pairs]}


def embedded(value: dict[str, Any], compress: bool | None = None) -> tuple[str, str]:
    """(script type, text) that carries the page's data: JSON as it is while small, else gzip (no
    timestamp: the same data gives the same page) in base64, which past COMPRESS_ABOVE bytes of JSON
    keeps the file several times smaller (bench/browser_scale.py). `compress` forces either."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if not (len(raw) > COMPRESS_ABOVE if compress is None else compress):
        # `<` occurs only inside JSON strings: as \u003c the JSON is the same, and no `</script>` or
        # `<!--` in a sample can end (or hide the end of) the element that carries it.
        return "application/json", raw.replace("<", "\\u003c")
    packed = gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0)
    return "application/gzip+base64", base64.b64encode(packed).decode("ascii")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render_browser(data: Browse, report_name: str | None = None, compress: bool | None = None) -> str:
    """The page. `report_name`: the decision page beside it, linked from the header; `compress`: see
    `embedded` (by size when None)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    script = (_TEMPLATES / "browser.js").read_text(encoding="utf-8")
    style = (_TEMPLATES / "browser.css").read_text(encoding="utf-8")
    title = f"Pairs: {data.baseline} vs {', '.join(data.candidates)}" + (f" on {data.suite}" if data.suite else "")
    return env.get_template("browser.html.j2").render(
        title=visible(title), generator_mark=markupsafe.Markup(HTML_MARK), report_name=report_name,
        script=markupsafe.Markup(script), style=markupsafe.Markup(style),
        script_hash=_sha256(script), style_hash=_sha256(style), data=embedded(payload(data), compress))


def browser_path(html_path: Path) -> Path:
    """Where `harness report -o x.html` puts its sample browser: x.pairs.html beside it."""
    return html_path.with_name(html_path.stem + ".pairs.html")
