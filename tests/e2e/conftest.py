"""The browser tests' shared fixtures: one headless Chromium per module and an operator
logged in through the admin's form (``tests/e2e/browser.py`` says how)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import chromium_start, log_in

PASSWORD = "a-long-test-password"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    driver = chromium_start(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def operator(browser, live_server) -> WebDriver:
    """A superuser logged in through the admin's login form; logged out afterwards."""
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    log_in(browser, live_server.url, "operator", PASSWORD)
    yield browser
    browser.delete_all_cookies()
