"""An operator, in headless Chromium, opens the traffic dashboard from the admin's index and
follows a search from its events to its page and on to a product (issue 12: the dashboard and
request debugging). The pages themselves are also in ``tests/e2e/pages.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as conditions

from tests.e2e.browser import chromium_start, log_in, wait
from tests.factories import ProductFactory
from tests.integration.dashboard.support import event, logged_search

PASSWORD = "a-long-test-password"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    driver = chromium_start(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def operator(browser, live_server) -> WebDriver:
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    log_in(browser, live_server.url, "operator", PASSWORD)
    yield browser
    browser.delete_all_cookies()


def test_an_operator_opens_the_dashboard_from_the_admin_index(operator, live_server):
    cache.clear()  # the page keeps a range's traffic in the cache for a while
    now = timezone.now()
    for minutes in range(1, 50, 3):
        logged_search(at=now - timedelta(minutes=minutes), latency=0.002 + minutes / 10_000)
        event(at=now - timedelta(minutes=minutes), event_type="impression", position=1 + minutes % 5)
    operator.find_element(By.LINK_TEXT, "Traffic and health dashboard").click()
    wait(operator).until(conditions.presence_of_element_located((By.ID, "traffic-summary")))
    operator.find_element(By.LINK_TEXT, "last hour").click()
    wait(operator).until(conditions.url_contains("window=hour"))
    drawn = operator.execute_script(
        "return [...document.querySelectorAll('svg.chart')].filter(svg => +svg.dataset.points > 0).length"
    )
    assert drawn == 5
    assert operator.find_element(By.ID, "scheduler").is_displayed()


def test_an_operator_follows_a_request_from_its_events_to_its_page(operator, live_server):
    product = ProductFactory(external_id="SHOE-1")
    search = logged_search(at=timezone.now(), product_ids=["SHOE-1", "BAG-2"], fallback=True)
    event(at=timezone.now(), event_type="click", request_id=search.request_id, product=product)
    operator.get(f"{live_server.url}/admin/catalog/event/?q={search.request_id}")
    operator.find_element(By.CSS_SELECTOR, f'a[title="{search.request_id}"]').click()  # to the request list
    operator.find_element(By.LINK_TEXT, search.request_id).click()  # to the request's page
    wait(operator).until(conditions.presence_of_element_located((By.ID, "shown-list")))
    assert operator.find_element(By.ID, "events-received").text.count("click") == 1
    operator.find_element(By.CSS_SELECTOR, "#shown-list a").click()
    wait(operator).until(conditions.url_contains("/admin/catalog/product/"))
