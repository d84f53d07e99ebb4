"""The sample browser, driven in real headless Chromium with clicks and keys, on the shipped traffic log
(imported with its incumbent) and a candidate served over loopback: the page's counts are the
database's, a filter shows exactly its pairs, a permalink reopens the same view, calls read as calls,
and hostile text stays text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness.analysis.pairs import browse
from harness.report.browser import render_browser
from tests.checks import query
from tests.conftest import ROOT, run_harness
from tests.servers import LookupServer

LOG = ROOT / "tests" / "data" / "traffic" / "log.jsonl"
HOSTILE = "<script>document.title='pwned'</script> [/INST] \x1b[31mred\x1b[0m <b>bold</b>"
# The candidate: right on one text request, hostile text on the other, prose where the incumbent called
# tools, and wrong JSON.
ANSWERS: dict[str, dict[str, Any]] = {
    "And of Sweden?": {"content": "Stockholm."},
    "Say hello in French.": {"content": HOSTILE},
    "What is the weather in Oslo and in Bergen?": {"content": "It is probably cold in both."},
    "Country and capital of Japan, as JSON.": {"content": json.dumps({"country": "Japan", "capital": "Kyoto"})},
}
FILTERS = {"candidate": None, "task": "task", "outcome": "outcome", "class": "candidate_class",
           "unsupported": "coalesce(unsupported, '(none)')"}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("browser")
    tasks = folder / "tasks"
    shutil.copytree(ROOT / "tasks", tasks)
    env = {"HARNESS_TASKS_DIR": str(tasks), "HARNESS_RUNS_DIR": str(folder / "runs")}
    db = folder / "h.duckdb"

    def ok(*args: str) -> None:
        result = run_harness(*args, "--db", str(db), env=env)
        assert result.returncode == 0, result.stderr[-2000:]

    ok("traffic", "import", str(LOG), "--name", "trlog", "--incumbent", "gpt-4o")
    with LookupServer(ANSWERS) as server:
        ok("eval", "-p", "local-openai", "-s", "trlog", "--base-url", server.base_url, "--no-cache")
    ok("report", "-b", "gpt-4o", "-c", "local-openai", "-s", "trlog", "-o", str(folder / "r.html"))
    return {"db": db, "html": folder / "r.pairs.html"}


def _ready(driver: Any) -> None:
    body = (By.TAG_NAME, "body")
    WebDriverWait(driver, 20).until(lambda d: d.find_element(*body).get_attribute("data-state") == "ready")


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    _ready(driver)


def _count(driver: Any) -> int:
    return int(driver.find_element(By.ID, "count").text.split(" of ")[0])


def _sql_counts(db: Path, column: str | None) -> dict[str, int]:
    expression = column or "'local-openai'"
    rows = query(db, f"select {expression}, count(*) from pair_outcomes('gpt-4o', 'local-openai', "
                     "suite_name := 'trlog') group by 1")
    return {str(value): n for value, n in rows}


def _selected(driver: Any) -> int:
    classes = [row.get_attribute("class") for row in driver.find_elements(By.CLASS_NAME, "row")]
    assert classes.count("row sel") == 1, classes
    return classes.index("row sel")


def _shown(driver: Any) -> list[str]:
    return [row.find_element(By.CLASS_NAME, "meta").text for row in driver.find_elements(By.CLASS_NAME, "row")]


def test_counts_per_filter_are_the_databases(page: dict[str, Any], browser: Any) -> None:
    db = page["db"]
    # The macro's outcomes against the samples themselves (the primary score of each side).
    raw = query(db, "select b.task, b.doc_id, case when c.score < b.score then 'lost' when c.score > b.score "
                    "then 'won' when c.score >= 0.5 then 'tied' else 'both wrong' end from sample_classes b "
                    "join sample_classes c using (task, doc_id) join runs rb on rb.run_id = b.run_id "
                    "join runs rc on rc.run_id = c.run_id where rb.provider = 'gpt-4o' "
                    "and rc.provider = 'local-openai' order by 1, 2")
    outcomes = query(db, "select task, doc_id, outcome from pair_outcomes('gpt-4o', 'local-openai') order by 1, 2")
    assert raw == outcomes and len(outcomes) == 5, (raw, outcomes)
    assert {o for _, _, o in outcomes} >= {"lost", "tied"}
    _open(browser, page["html"].as_uri())
    assert _count(browser) == 5
    for name, column in FILTERS.items():
        select = Select(browser.find_element(By.ID, f"f-{name}"))
        expected = _sql_counts(db, column)
        labels = {o.get_attribute("value"): o.text for o in select.options[1:]}
        assert set(labels) == set(expected), (name, labels, expected)
        for value, n in expected.items():
            assert labels[value] == f"{value} ({n})"
            select.select_by_value(value)
            assert _count(browser) == n, (name, value)
        select.select_by_value("")
    assert _count(browser) == 5


def test_a_class_filter_shows_exactly_its_pairs_and_keys_move(page: dict[str, Any], browser: Any) -> None:
    _open(browser, page["html"].as_uri())
    for cls, in query(page["db"], "select distinct candidate_class from pair_outcomes('gpt-4o', 'local-openai')"):
        Select(browser.find_element(By.ID, "f-class")).select_by_value(cls)
        expected = [f"{task} #{doc}" for task, doc in query(
            page["db"], "select task, doc_id from pair_outcomes('gpt-4o', 'local-openai') "
                        "where candidate_class = ? order by 1, 2", [cls])]
        assert _shown(browser) == expected, cls
    Select(browser.find_element(By.ID, "f-class")).select_by_value("")
    first = browser.find_element(By.CSS_SELECTOR, "#detail h2").text
    at = _selected(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys("j" if at < 4 else "k")
    moved = at + 1 if at < 4 else at - 1
    assert _selected(browser) == moved
    task, doc = _shown(browser)[moved].split(" #")
    assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text.startswith(f"{task} · doc {doc} · ")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_UP if at < 4 else Keys.ARROW_DOWN)
    assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text == first


def test_a_permalink_reopens_the_same_pair_and_filters(page: dict[str, Any], browser: Any) -> None:
    _open(browser, page["html"].as_uri())
    Select(browser.find_element(By.ID, "f-outcome")).select_by_value("lost")
    rows = browser.find_elements(By.CLASS_NAME, "row")
    rows[-1].click()
    chosen, url = browser.find_element(By.CSS_SELECTOR, "#detail h2").text, browser.current_url
    assert "pair=" in url and "outcome=lost" in url
    _open(browser, page["html"].as_uri())  # a fresh page, no fragment: the first pair of all
    assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text != chosen
    _open(browser, url)
    assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text == chosen
    assert Select(browser.find_element(By.ID, "f-outcome")).first_selected_option.get_attribute("value") == "lost"
    assert _selected(browser) == len(rows) - 1


def _detail_of(driver: Any, page: dict[str, Any], task: str, doc: int) -> str:
    _open(driver, page["html"].as_uri() + f"#pair=0|{task}|{doc}")
    return driver.find_element(By.ID, "detail").text


def test_calls_read_as_calls_and_hostile_text_stays_text(page: dict[str, Any], browser: Any) -> None:
    browser.get_log("browser")  # clear what earlier pages logged
    tools = _detail_of(browser, page, "trlog_tools", 0)
    assert 'get_weather(city="Oslo")' in tools and 'get_weather(city="Bergen")' in tools
    assert "[{'name'" not in tools and "It is probably cold in both." in tools
    text = _detail_of(browser, page, "trlog_text", 1)
    for literal in ("<script>document.title='pwned'</script>", "[/INST]", "\\x1b[31mred\\x1b[0m", "<b>bold</b>"):
        assert literal in text, literal
    assert browser.title.startswith("Pairs: gpt-4o vs local-openai")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 2  # the data and the page's own script
    assert not browser.find_elements(By.CSS_SELECTOR, "#detail b, #detail script")
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    search = browser.find_element(By.ID, "f-search")
    search.send_keys("pwned")
    WebDriverWait(browser, 5).until(lambda d: _count(d) == 1)
    search.send_keys(Keys.ESCAPE)


def test_the_decision_page_links_each_example_to_its_pair(page: dict[str, Any], browser: Any) -> None:
    browser.get(page["html"].with_name("r.html").as_uri())
    links = [a for a in browser.find_elements(By.CSS_SELECTOR, "#losses a") if "#pair=" in a.get_attribute("href")]
    assert links, "no example links to the sample browser"
    task_doc = links[0].text  # "trlog_tools · doc 0"
    links[0].click()
    _ready(browser)
    assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text.startswith(task_doc + " · ")


@pytest.mark.parametrize("compress", [True, False])
def test_either_embedding_opens_the_same_pairs(page: dict[str, Any], browser: Any, compress: bool,
                                               tmp_path: Path) -> None:
    """Large data travels gzip+base64, small as JSON (`<` escaped): both open to the same page."""
    data = browse(page["db"], "gpt-4o", ["local-openai"], "trlog")
    target = tmp_path / "p.html"
    target.write_text(render_browser(data, compress=compress), encoding="utf-8")
    assert ("application/gzip+base64" in target.read_text()) == compress
    _open(browser, target.as_uri() + "#pair=0|trlog_text|1")
    assert _count(browser) == 5
    assert "<script>document.title='pwned'</script>" in browser.find_element(By.ID, "detail").text
