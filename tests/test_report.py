"""The decision-review report from stored runs: it renders in headless Chromium with every section and
no console errors, its Markdown twin carries the same numbers, and model output is text, never markup."""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_harness

SECTIONS = ("verdict", "charts", "gap-chart", "quality-cost", "latency", "samples-needed", "tasks", "losses", "judged",
            "drift", "openness", "capabilities", "risk", "provenance", "disagreements")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking")
PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


def chromium(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: `make test` installs it (Debian package chromium)"
    return subprocess.run([binary, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120)


def console_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def check_in_browser(page: Path, folder: Path) -> str:
    """Screenshot (not blank), console (no messages), DOM (every section); returns the rendered DOM."""
    from PIL import Image

    shot = folder / "report.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    assert console_lines(result) == []
    image = Image.open(shot).convert("L")
    colours = image.getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 20, "the screenshot is blank"
    dark = sum(count for count, value in colours if value < 128)
    assert dark > 0.005 * image.width * image.height, "almost nothing is drawn"
    dom = chromium("--dump-dom", page.as_uri())
    assert console_lines(dom) == []
    for section in SECTIONS:
        assert f'id="{section}"' in dom.stdout, section
    return dom.stdout


@pytest.fixture(scope="module")
def report(fake_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fake vs fake2 and vs a provider whose every answer is an HTML payload."""
    folder = tmp_path_factory.mktemp("report")
    db = folder / "runs.duckdb"
    shutil.copy(fake_runs["db"], db)
    profiles = folder / "providers"
    shutil.copytree(ROOT / "providers", profiles)
    text = (profiles / "fake.toml").read_text()
    payload = PAYLOAD.replace('"', '\\"')
    (profiles / "fakehtml.toml").write_text(re.sub(r"replies = .*", f'replies = ["{payload}"]', text))
    made = run_harness("eval", "-p", "fakehtml", "--db", str(db), env={"HARNESS_PROVIDERS_DIR": str(profiles)})
    assert made.returncode == 0, made.stderr[-1500:]
    out = folder / "review.html"
    result = run_harness("report", "-b", "fake", "-c", "fake2", "-c", "fakehtml", "-o", str(out), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return {"html": out, "md": out.with_suffix(".md"), "folder": folder}


def test_report_renders_in_chromium_with_every_section(report: dict[str, Path]) -> None:
    dom = check_in_browser(report["html"], report["folder"])
    assert "fake2: " in dom and "Lock-in review" in dom


def test_model_output_is_shown_as_text(report: dict[str, Path]) -> None:
    source = report["html"].read_text()
    assert "&lt;script&gt;document.title=" in source
    assert "<script" not in source and "<img" not in source
    dom = chromium("--dump-dom", report["html"].as_uri()).stdout
    assert "<title>pwned</title>" not in dom and "<title>Lock-in review" in dom
    assert "<script" not in dom and "<img" not in dom
    markdown = report["md"].read_text()
    assert PAYLOAD in markdown  # verbatim, but only inside code fences
    fenced = re.findall(r"^(`{3,})text\n(.*?)\n\1$", markdown, flags=re.S | re.M)
    outside = re.sub(r"^(`{3,})text\n.*?\n\1$", "", markdown, flags=re.S | re.M)
    assert any(PAYLOAD in body for _, body in fenced) and "<script" not in outside


class _Cells(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("td", "th"):
            self._open = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.cells[-1] += data


NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(?:\.\d+)?")


def _numbers(cells: list[str]) -> list[str]:
    return [n for cell in cells for n in NUMBER.findall(cell)]


def test_markdown_twin_carries_the_same_numbers(report: dict[str, Path]) -> None:
    parser = _Cells()
    parser.feed(report["html"].read_text())
    md_cells = [cell.strip().replace("\\|", "|") for line in report["md"].read_text().splitlines()
                if line.startswith("|") and not re.fullmatch(r"\|( -+:? \|)+", line)
                for cell in line.strip("|").split(" | ")]
    html_numbers, md_numbers = _numbers(parser.cells), _numbers(md_cells)
    assert len(html_numbers) > 100
    assert html_numbers == md_numbers
    verdicts = re.findall(r"\b(feasible|infeasible|inconclusive)\b", " ".join(parser.cells))
    assert verdicts == re.findall(r"\b(feasible|infeasible|inconclusive)\b", " ".join(md_cells))
