"""Render ReportData as self-contained HTML (inline CSS and SVG, no scripts) and as Markdown.

Both templates format numbers through the same filters, so the two documents carry the same figures.
HTML autoescapes everything; Markdown escapes table cells and puts model text in code fences.
Tool calls and targets are shown as calls (`get_weather(city="Oslo")`, harness.report.calls), never as
stored JSON or a Python repr.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from harness.analysis.constraints import fail_open_notes
from harness.analysis.gaps import UNDECIDED, p_verdict, row_notes, verdict_text
from harness.analysis.pairs import Browse
from harness.analysis.review import ReportData
from harness.outputs import HTML_MARK, MARKDOWN_MARK, claim_file, how, parent_folder, write_together
from harness.report import svg
from harness.report.browser import browser_path, render_browser
from harness.report.calls import calls_text, target_text
from harness.visible import visible


def num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def span(low: float | None, high: float | None, digits: int = 3) -> str:
    return "—" if low is None or high is None else f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def errors_line(row: dict[str, Any]) -> str:
    """Beside every verdict: how many generations errored on each side, and the pairs left out for it."""
    base, cand, pairs = (row.get(k) or 0 for k in ("baseline_errors", "candidate_errors", "errored_pairs"))
    if not pairs:
        return "no errored samples"
    return f"{cand} errored on the candidate, {base} on the incumbent: {pairs} pairs left out"


def usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.4g}"


def money(value: float | None) -> str:
    """A monthly amount: dollars and cents with thousands separators."""
    return "—" if value is None else f"${value:,.2f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def pvalue(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def md_cell(value: Any) -> str:
    """A Markdown table cell: no pipes, no line breaks, no raw HTML, no terminal control characters
    (a report is read with `cat` and `less -R` too)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
    return visible(text, layout=False).replace("|", "\\|")


def fence(text: str) -> str:
    """A code fence longer than any backtick run in the text, so model output stays literal, with
    control characters shown escaped (line breaks and tabs kept)."""
    text = visible(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def answer(text: str | None, stored_calls: str | None) -> str:
    """A side's answer as the page shows it: its text, if any, then each tool call it made on a line
    of its own (`get_weather(city="Oslo")`), never the stored JSON."""
    return "\n".join([*([text] if text else []), *calls_text(stored_calls)])


def _visible_value(value: Any) -> Any:
    # Markup is our own (the SVG charts, which escape their labels): the rest is stored text.
    return visible(value) if isinstance(value, str) and not isinstance(value, markupsafe.Markup) else value


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=autoescape,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        # Every value printed, filtered or not, has its control characters shown escaped: Markdown has
        # no escaping of its own (and is read with `cat`), and in HTML a control character is a parse
        # error a browser drops or shows as nothing, so a reviewer would not see what the model sent.
        finalize=_visible_value,
    )
    env.filters.update(num=num, signed=signed, usd=usd, money=money, ms=ms, pvalue=pvalue, md=md_cell, fence=fence,
                       calls=calls_text, target=target_text, answer=answer)
    env.filters["slug"] = lambda value: re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")
    env.globals.update(span=span, errors_line=errors_line, verdict_text=verdict_text, row_notes=row_notes,
                       p_verdict=p_verdict, fail_open_notes=fail_open_notes)
    return env


def charts(data: ReportData) -> dict[str, Any]:
    """The inline SVG charts, per candidate where they are per candidate."""
    forest = {c.name: svg.forest([(r["task"], r["gap"], r["ci_low"], r["ci_high"]) for r in c.comparison.rows],
                                 data.margin) for c in data.candidates}
    first = data.candidates[0].overall
    points = [(data.baseline, first["baseline_cost_per_1k"], first["baseline_mean"])]
    points += [(c.name, c.overall["candidate_cost_per_1k"], c.overall["candidate_mean"]) for c in data.candidates]
    needed = [(f"{c.name}: {r['task']}", float(r["samples_needed"])) for c in data.candidates for r in c.tasks
              if r["verdict"] in UNDECIDED and r["samples_needed"] is not None]
    return {
        "forest": forest,
        "quality_cost": svg.scatter(points, "USD per 1,000 samples", "weighted score", "Quality against cost"),
        "latency": svg.boxes(data.latencies, "ms", "Latency per sample"),
        "needed": svg.bars(needed, "docs", "Documents needed to decide each undecided task"),
    }


def render_html(data: ReportData, pairs_name: str | None = None) -> str:
    """The decision page; `pairs_name` is the sample browser beside it, linked from the top."""
    return _env(True).get_template("report.html.j2").render(d=data, charts=charts(data), pairs_name=pairs_name,
                                                             generator_mark=markupsafe.Markup(HTML_MARK))


def render_markdown(data: ReportData, pairs_name: str | None = None) -> str:
    return _env(False).get_template("report.md.j2").render(d=data, generator_mark=MARKDOWN_MARK,
                                                           pairs_name=pairs_name)


def report_paths(output: Path) -> tuple[Path, Path]:
    """(HTML, Markdown) for `-o`: `x.md` asks for the Markdown, so the HTML goes beside it as `x.html`."""
    if output.suffix.lower() == ".md":
        return output.with_suffix(".html"), output
    return output, output.with_suffix(".md")


def claim(output: Path, force: bool) -> str:
    """Check the files `-o` means (the page, its Markdown twin and the sample browser beside them)
    before anything is built; return the line that says, up front, which files will be written (and
    what is replaced). Raises HarnessError where a file there is not an earlier report and `force`
    is off (see harness.outputs)."""
    html_path, md_path = report_paths(output)
    named, twin = (md_path, html_path) if output == md_path else (html_path, md_path)
    parent_folder(named)
    named_state = claim_file(named, "report", force)
    twin_kind = "HTML" if twin == html_path else "Markdown"
    twin_state = claim_file(twin, "report", force, role=f"the {twin_kind} twin of {named.name}")
    pairs = browser_path(html_path)
    pairs_state = claim_file(pairs, "sample browser", force, role=f"the sample browser of {html_path.name}")
    return (f"writing {how(named, named_state)}, its {twin_kind} twin {how(twin, twin_state)} and the sample "
            f"browser {how(pairs, pairs_state)}")


def write(data: ReportData, output: Path, pairs: Browse) -> tuple[Path, Path, Path]:
    """Write the HTML, its Markdown twin and the sample browser next to each other, all or none. Call
    `claim` first."""
    html_path, md_path = report_paths(output)
    pairs_path = browser_path(html_path)
    write_together({html_path: render_html(data, pairs_path.name), md_path: render_markdown(data, pairs_path.name),
                    pairs_path: render_browser(pairs, report_name=html_path.name)}, "report")
    return html_path, md_path, pairs_path
