"""A real browser (Debian's headless Chromium, driven by Selenium) against the live server: the
API's Swagger UI renders, and an operator promotes and rolls back models in the control room
the way they would, through the admin's pages and buttons.

The live server runs in a thread with its own database connection, so the test's rows are
committed (``transaction=True``). Static files (the admin's, Swagger UI's) are served from the
apps by the live server; the suite's conftest makes the storage plain.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

from ranking.models import ModelStatus, ModelVersion
from ranking.services import model_version_promote, model_version_register
from tests.registry_factories import register_kwargs, tiny_model_text

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30
PASSWORD = "a-long-test-password"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    """One headless Chromium for the module; each test starts logged out."""
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
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture
def operator(browser, live_server) -> WebDriver:
    """A superuser logged in to the admin through its login form."""
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(browser).until(conditions.presence_of_element_located((By.ID, "user-tools")))
    yield browser
    browser.delete_all_cookies()


def wait(browser: WebDriver) -> WebDriverWait:
    return WebDriverWait(browser, WAIT_SECONDS)


def versions_register(count: int) -> list[int]:
    """``count`` real (tiny) models registered as candidates, each with its own text."""
    return [
        model_version_register(**register_kwargs(model_text=tiny_model_text(seed))).version
        for seed in range(count)
    ]


def status_of(version: int) -> str:
    return ModelVersion.objects.get(version=version).status


def click_link(browser: WebDriver, text: str) -> None:
    """Click the link that starts with ``text`` in the page's source (the admin's object tools
    are upper-cased by CSS, which Selenium's link-text matching would see)."""
    link = (By.XPATH, f"//a[starts-with(normalize-space(.), '{text}')]")
    wait(browser).until(conditions.element_to_be_clickable(link)).click()


def confirm_with_reason(browser: WebDriver, reason: str, button: str) -> None:
    """Fill in the confirmation page's reason and press its submit button."""
    wait(browser).until(conditions.presence_of_element_located((By.NAME, "reason"))).send_keys(reason)
    browser.find_element(By.CSS_SELECTOR, f"input[type=submit][value='{button}']").click()


def message(browser: WebDriver) -> str:
    """The admin's message after a redirect (its template capitalises the first letter)."""
    located = conditions.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist"))
    return wait(browser).until(located).get_attribute("textContent").strip()


def audit_trail(browser: WebDriver) -> list[str]:
    """The rows of the change page's audit trail, as text."""
    return [row.text for row in browser.find_elements(By.CSS_SELECTOR, ".inline-group tbody tr")]


def test_the_swagger_ui_renders_the_rank_operation(operator, live_server):
    operator.get(f"{live_server.url}/api/docs/")

    path = wait(operator).until(
        conditions.visibility_of_element_located(
            (By.CSS_SELECTOR, ".opblock-summary-path[data-path='/api/rank']")
        )
    )
    block = path.find_element(By.XPATH, "./ancestor::div[contains(concat(' ', @class, ' '), ' opblock ')]")
    assert "opblock-post" in block.get_attribute("class")
    assert "Rank candidate products for a query" in block.text
    assert operator.find_element(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/api/events']")
    assert operator.find_element(By.CSS_SELECTOR, "button.authorize")  # the API key scheme


def test_an_operator_promotes_a_candidate_from_the_control_room(operator, live_server):
    first, second = versions_register(2)
    model_version_promote(version=first, actor="test", reason="the first model")

    operator.get(f"{live_server.url}/admin/ranking/modelversion/")
    click_link(operator, f"v{second}")
    click_link(operator, "Promote to production")
    confirm_with_reason(operator, "better NDCG on last week's lists", f"Promote v{second}")

    assert message(operator) == f"V{second} is now in production. v{first} is archived."
    assert "production" in operator.find_element(By.CSS_SELECTOR, ".field-status_coloured").text
    promotion = [row for row in audit_trail(operator) if "better NDCG on last week's lists" in row]
    assert len(promotion) == 1
    assert "admin:operator" in promotion[0]
    assert (status_of(first), status_of(second)) == (ModelStatus.ARCHIVED, ModelStatus.PRODUCTION)


def test_an_operator_rolls_back_to_the_previous_production_version(operator, live_server):
    first, second = versions_register(2)
    model_version_promote(version=first, actor="test", reason="the first model")
    model_version_promote(version=second, actor="test", reason="the second model")

    operator.get(f"{live_server.url}/admin/ranking/modelversion/")
    click_link(operator, "Roll back production")
    confirm_with_reason(operator, f"v{second} lowered conversions", f"Roll back to v{first}")

    assert message(operator) == f"V{first} is now in production. v{second} is archived."
    assert "production" in operator.find_element(By.CSS_SELECTOR, ".field-status_coloured").text
    assert any(f"v{second} lowered conversions" in row for row in audit_trail(operator))
    assert (status_of(first), status_of(second)) == (ModelStatus.PRODUCTION, ModelStatus.ARCHIVED)


# --- The dashboard and request debugging (issue 12) ---------------------------------------------


def screenshot(browser: WebDriver, name: str) -> Path:
    """Save the page as a test artefact under ``SEARCHOP_VAR_DIR/screenshots``."""
    from django.conf import settings

    folder = Path(settings.SEARCHOP_VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_an_operator_opens_the_dashboard_from_the_admin_index(operator, live_server):
    from django.core.cache import cache
    from django.utils import timezone

    from tests.integration.dashboard.support import event, logged_search

    cache.clear()  # the page keeps a range's traffic in the cache for a while
    now = timezone.now()
    for minutes in range(1, 50, 3):
        logged_search(
            at=now - timedelta(minutes=minutes), latency=0.002 + minutes / 10_000, fallback=minutes % 9 == 0
        )
        event(at=now - timedelta(minutes=minutes), event_type="impression", position=1 + minutes % 5)
    screenshot(operator, "admin-index")
    operator.find_element(By.LINK_TEXT, "Traffic and health dashboard").click()
    wait(operator).until(conditions.presence_of_element_located((By.ID, "traffic-summary")))
    operator.find_element(By.LINK_TEXT, "last hour").click()
    wait(operator).until(conditions.url_contains("window=hour"))
    assert len(operator.find_elements(By.CSS_SELECTOR, ".dashboard-charts svg")) == 5
    operator.execute_script("document.getElementById('scheduler').scrollIntoView()")
    assert operator.find_element(By.ID, "scheduler").is_displayed()
    assert screenshot(operator, "dashboard").stat().st_size > 0


def test_an_operator_follows_a_request_from_its_events_to_its_page(operator, live_server):
    from django.utils import timezone

    from tests.factories import ProductFactory
    from tests.integration.dashboard.support import event, logged_search

    product = ProductFactory(external_id="SHOE-1")
    search = logged_search(at=timezone.now(), product_ids=["SHOE-1", "BAG-2"], fallback=True)
    event(at=timezone.now(), event_type="click", request_id=search.request_id, product=product)
    operator.get(f"{live_server.url}/admin/catalog/event/?q={search.request_id}")
    operator.find_element(By.LINK_TEXT, search.request_id).click()  # to the request list, found
    operator.find_element(By.LINK_TEXT, search.request_id).click()  # to the request's page
    wait(operator).until(conditions.presence_of_element_located((By.ID, "shown-list")))
    assert operator.find_element(By.ID, "events-received").text.count("click") == 1
    screenshot(operator, "search-request")
    operator.find_element(By.CSS_SELECTOR, "#shown-list a").click()
    wait(operator).until(conditions.url_contains("/admin/catalog/product/"))
