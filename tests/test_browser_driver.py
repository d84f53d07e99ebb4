"""Tests can drive a page in real headless Chromium: clicks and keys reach its script, the URL fragment
keeps its state across a reload, a strict hash-based CSP lets exactly the page's own script and style
run, and text that looks like markup stays text."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from bench.chromium import csp_hash

STYLE = "#more { color: rgb(0, 128, 0); }"
SCRIPT = r"""
const count = document.getElementById("count");
let n = Number((/^#n=(\d+)$/.exec(location.hash) || [0, 0])[1]);
function show() { count.textContent = String(n); }
function more() { n += 1; show(); history.replaceState(null, "", "#n=" + n); }
document.getElementById("more").addEventListener("click", more);
document.addEventListener("keydown", (event) => { if (event.key === "j") more(); });
document.getElementById("note").textContent = "<script>document.title = 'pwned'<\/script>";
show();
"""
INJECTED = "<script>document.title = 'pwned'</script>"


def write_page(folder: Path, script: str = SCRIPT, style: str = STYLE) -> str:
    """The counter page, its CSP allowing the inline script and style whose text is given."""
    page = folder / "counter.html"
    csp = f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}"
    page.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>counter</title>
<style>{STYLE}</style>
</head><body>
<button id="more" type="button">more</button> <output id="count">none</output>
<div id="note"></div>
<script>{SCRIPT}</script>
</body></html>
""")
    return page.as_uri()


def count(driver: Chrome) -> str:
    return driver.find_element(By.ID, "count").text


def csp_violations(driver: Chrome) -> list[str]:
    """Console entries since the last call (reading the log empties it) that name the page's CSP."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_clicks_and_keys_drive_the_page_under_a_strict_csp(browser: Chrome, tmp_path: Path) -> None:
    url = write_page(tmp_path)
    browser.get_log("browser")
    browser.get(url)
    assert count(browser) == "0"
    assert browser.find_element(By.ID, "more").value_of_css_property("color") == "rgba(0, 128, 0, 1)"

    browser.find_element(By.ID, "more").click()
    browser.find_element(By.TAG_NAME, "body").send_keys("j")
    assert count(browser) == "2"
    assert browser.current_url == url + "#n=2"

    browser.refresh()
    assert count(browser) == "2"
    browser.get("about:blank")
    browser.get(url + "#n=41")
    assert count(browser) == "41"

    note = browser.find_element(By.ID, "note")
    assert note.text == INJECTED
    assert note.find_elements(By.TAG_NAME, "script") == []
    assert browser.title == "counter"
    assert csp_violations(browser) == []


def test_a_script_or_style_the_csp_does_not_name_is_refused_and_logged(browser: Chrome, tmp_path: Path) -> None:
    """The control for the test above: a CSP violation does reach the browser log this driver reads."""
    browser.get_log("browser")
    browser.get(write_page(tmp_path, script=SCRIPT + " ", style=STYLE + " "))
    browser.find_element(By.ID, "more").click()
    assert count(browser) == "none"
    assert browser.find_element(By.ID, "more").value_of_css_property("color") != "rgba(0, 128, 0, 1)"
    violations = csp_violations(browser)
    assert any("script" in message for message in violations), violations
    assert any("style" in message for message in violations), violations
