"""A real browser (Debian's headless Chromium, driven by Selenium) against the live server: the
API's Swagger UI renders, and an operator promotes and rolls back models in the control room
the way they would, through the admin's pages and buttons.

The live server runs in a thread with its own database connection, so the test's rows are
committed (``transaction=True``). Static files (the admin's, Swagger UI's) are served from the
apps by the live server; the suite's conftest makes the storage plain.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as conditions

from ranking.models import ModelStatus, ModelVersion
from ranking.services import model_version_promote, model_version_register
from tests.e2e.browser import chromium_start, log_in, wait
from tests.registry_factories import register_kwargs, tiny_model_text

PASSWORD = "a-long-test-password"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    """One headless Chromium for the module; each test starts logged out."""
    driver = chromium_start(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def operator(browser, live_server) -> WebDriver:
    """A superuser logged in to the admin through its login form."""
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    log_in(browser, live_server.url, "operator", PASSWORD)
    yield browser
    browser.delete_all_cookies()


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
