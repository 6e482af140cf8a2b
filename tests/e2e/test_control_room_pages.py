"""Every page of the control room (``tests/e2e/pages.py``) in headless Chromium, logged in as
staff through the login form: it renders, its screenshot is saved under
``$SEARCHOP_VAR_DIR/screenshots/``, it asked no other host for anything (no CDN), its charts
drew data, and it fits a 1,400 px window."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from selenium.webdriver.remote.webdriver import WebDriver

from ranking.services import model_version_promote, model_version_register
from tests.e2e.browser import SCREENSHOTS, WINDOW, chromium_start, log_in, other_hosts, requested_urls, wait
from tests.e2e.pages import PAGES, Page
from tests.registry_factories import register_kwargs, report_build, tiny_model_text

PASSWORD = "a-long-test-password"
FEATURE_GAINS = {"p_rating": 854.5, "t_cos_description": 533.7, "u_price_gap": 500.7, "q_num_terms": 0.0}

# The boxes inside the page's content that scroll sideways (the admin wraps its lists in one).
SCROLLING_BOXES = """
return [...document.querySelectorAll('#content *, main *')]
  .filter(box => ['auto', 'scroll'].includes(getComputedStyle(box).overflowX) && box.scrollWidth > box.clientWidth + 1)
  .map(box => box.tagName + '.' + box.className)
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    driver = chromium_start(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def staff(browser, live_server) -> WebDriver:
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    log_in(browser, live_server.url, "operator", PASSWORD)
    yield browser
    browser.delete_all_cookies()


@pytest.fixture
def seeded() -> dict[str, int]:
    """Three versions with reports: the first promoted then replaced by the second (two
    production periods to shade), the third a candidate. The rows pages' paths may name."""
    versions = [
        model_version_register(
            **register_kwargs(
                model_text=tiny_model_text(seed),
                report=report_build(version=seed + 1, ndcg=0.40 + seed / 50, bm25=0.42),
                feature_importance=FEATURE_GAINS,
            )
        )
        for seed in range(3)
    ]
    model_version_promote(version=versions[0].version, actor="test", reason="the first model")
    model_version_promote(version=versions[1].version, actor="test", reason="the second model")
    return {
        "production_pk": versions[1].pk,
        "candidate_pk": versions[2].pk,
        "production_version": versions[1].version,
        "candidate_version": versions[2].version,
    }


def screenshot(browser: WebDriver, name: str) -> None:
    """The whole page, not just the window: the window grows to the page's height, then back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WINDOW[0], min(max(height + 140, WINDOW[1]), 8000))
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(*WINDOW)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_control_room_page_renders_from_this_server_alone(staff, live_server, seeded, page: Page):
    requested_urls(staff)  # forget the login's requests

    staff.get(live_server.url + page.path.format(**seeded))
    wait(staff).until(lambda browser: page.shows in browser.find_element("tag name", "body").text)
    screenshot(staff, page.name)

    assert other_hosts(requested_urls(staff), live_server.url) == []
    drawn = staff.execute_script(
        "return [...document.querySelectorAll('svg.chart')].filter(svg => +svg.dataset.points > 0).length"
    )
    assert drawn >= page.charts
    if page.fits_window:
        width = staff.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]
        assert staff.execute_script(SCROLLING_BOXES) == []  # nor a table in a box that scrolls sideways
