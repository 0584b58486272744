"""Headless Chromium for checking the dashboard the way a user sees it (tests, benchmarks)."""

from __future__ import annotations

import json
import shutil

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")

# innerText of every element matching a CSS selector, inside shadow roots too (Panel renders
# its components in shadow DOM, where plain selectors do not reach)
SHADOW_TEXTS = """
const found = [];
const walk = (root) => {
  root.querySelectorAll(arguments[0]).forEach((e) => found.push(e.innerText.trim()));
  root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
};
walk(document);
return found;
"""


def missing() -> str | None:
    """Why a browser cannot be started here, or None."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "Chromium is not installed (apt-get install chromium)"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def headless_chromium(width: int = 1600, height: int = 1100):
    """A selenium Chrome driver on the system's Chromium, logging network requests."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in (*CHROMIUM_ARGS, f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def requested_urls(driver) -> set[str]:
    """Every URL the page has requested so far (from the performance log)."""
    urls = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls
