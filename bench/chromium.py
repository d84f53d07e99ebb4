"""Real headless Chromium driven by Selenium, for tests that click and type on a page and for the
benchmarks that time pages (tests import this; benchmarks never import tests).

Debian's chromium and chromedriver (`make test` installs both, one version) are passed by path, so
Selenium Manager never runs: nothing is looked up or downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import warnings

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
         "--no-first-run", "--disable-background-networking")


def chrome() -> webdriver.Chrome:
    """A headless Chromium session; the caller quits it. Console messages are kept for
    `driver.get_log("browser")` (CSP violations land there as SEVERE entries)."""
    binary = shutil.which("chromium")
    if binary is None:
        raise RuntimeError("chromium is missing: `make test` installs it (Debian package chromium)")
    driver = shutil.which("chromedriver")
    if driver is None:
        raise RuntimeError("chromedriver is missing: `make test` installs it (Debian package chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver is on loopback: a proxy from the environment must not see its traffic. Deprecated in
    # favour of a ClientConfig, which webdriver.Chrome does not take: this switch is the only way there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        options.ignore_local_proxy_environment_variables()
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def csp_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline <script> or <style> body."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"
