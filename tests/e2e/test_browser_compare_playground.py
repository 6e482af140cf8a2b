"""Headless Chromium opens the compare page and the query playground the way a search team
would: from the version list, with two real versions trained on a small generated shop.
Screenshots are kept as the run's artefacts in ``SEARCHOP_VAR_DIR/screenshots``."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import Select

from catalog.models import SearchRequest
from catalog.services import synthetic_data_generate
from ranking.services import model_version_promote, serving_features_build
from tests.e2e.browser import SCREENSHOTS
from tests.e2e.test_browser import browser, click_link, operator, wait  # noqa: F401 - shared fixtures
from training.services import model_train

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_versions(small_config, settings):
    cache.clear()
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 100}
    synthetic_data_generate(config=small_config)
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    first = model_train().version
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 10}
    second = model_train().version
    model_version_promote(version=first.version, actor="test", reason="the browser test's production")
    serving_features_build()
    return first, second


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page, as tall as its content."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 1000), 6000))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def test_a_search_team_compares_two_versions_from_the_version_list(operator, live_server, two_versions):  # noqa: F811
    first, second = two_versions

    operator.get(f"{live_server.url}/admin/ranking/modelversion/")
    click_link(operator, "Compare versions")
    Select(wait(operator).until(conditions.presence_of_element_located((By.NAME, "a")))).select_by_value(
        str(second.version)
    )
    Select(operator.find_element(By.NAME, "b")).select_by_value(str(first.version))
    operator.find_element(By.CSS_SELECTOR, "input[type=submit][value=Compare]").click()
    click_link(operator, "Score both on the same lists")
    table = wait(operator).until(conditions.presence_of_element_located((By.ID, "paired-metrics")))
    screenshot(operator, "compare-paired")

    assert "ndcg@10" in table.text
    assert "[" in table.text  # an interval
    assert operator.find_element(By.CSS_SELECTOR, "#importance-chart svg")
    assert operator.execute_script("return document.documentElement.scrollWidth") <= 1400


def test_a_search_team_tries_a_query_in_the_playground(operator, live_server, two_versions):  # noqa: F811
    _, second = two_versions
    query = SearchRequest.objects.exclude(query_norm="").values_list("query_norm", flat=True).first()
    requests_before = SearchRequest.objects.count()

    operator.get(f"{live_server.url}/admin/ranking/modelversion/")
    click_link(operator, "Query playground")
    wait(operator).until(conditions.presence_of_element_located((By.NAME, "q"))).send_keys(query)
    Select(operator.find_element(By.NAME, "other")).select_by_value(f"v{second.version}")
    operator.find_element(By.CSS_SELECTOR, "input[type=submit][value=Rank]").click()
    results = wait(operator).until(conditions.presence_of_element_located((By.ID, "playground-results")))
    rows = results.find_elements(By.CSS_SELECTOR, "tbody tr")
    results.find_element(By.LINK_TEXT, "why?").click()
    explanation = wait(operator).until(
        conditions.presence_of_element_located((By.CSS_SELECTOR, "details.explanation[open] li"))
    )
    screenshot(operator, "playground-why")

    assert rows
    assert explanation.text
    assert SearchRequest.objects.count() == requests_before
