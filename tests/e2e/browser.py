"""Debian's headless Chromium for the browser tests, one way: where it is, how it starts, how
a person logs in, and which hosts a page asked for."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30
WINDOW = (1400, 1000)  # the window every page must fit without scrolling sideways
# Screenshots of the pages under test, kept as the run's artefacts (README: Control room).
SCREENSHOTS = Path(settings.SEARCHOP_VAR_DIR) / "screenshots"


def chromium_start(profile_dir: Path) -> WebDriver:
    """A headless Chromium that records the page's network requests (the performance log)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: install Debian's packages with "
            "`apt-get install -y chromium chromium-driver` (run.py test does when they are missing)."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


def wait(browser: WebDriver) -> WebDriverWait:
    return WebDriverWait(browser, WAIT_SECONDS)


def log_in(browser: WebDriver, base_url: str, username: str, password: str) -> None:
    """Through the admin's login form, as a person would."""
    browser.delete_all_cookies()
    browser.get(f"{base_url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(browser).until(conditions.presence_of_element_located((By.ID, "user-tools")))


def requested_urls(browser: WebDriver) -> list[str]:
    """Every URL the browser requested since the last call (documents, styles, scripts,
    images, fonts, fetches), from Chromium's performance log."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def other_hosts(urls: list[str], base_url: str) -> list[str]:
    """The URLs that went to another host than the server under test (data: and blob: URLs
    are the page's own)."""
    own = urlsplit(base_url).netloc
    return [
        url
        for url in urls
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own
    ]
