"""/admin/dashboard/: staff only, linked from the admin index, every range renders its
numbers and SVG charts (no script, no CDN), and a silent beat is a warning on the page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.integration.dashboard.support import event, logged_search
from training.dashboard.beat import WATCHDOG_NAME
from training.dashboard.histogram import RELATIVE_ERROR
from training.dashboard.rollup import traffic_hours_roll_up
from training.models import TrafficHour

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


def test_the_dashboard_is_at_its_address_and_linked_from_the_admin_index(admin_client):
    assert reverse("dashboard") == URL
    assert URL.encode() in admin_client.get(reverse("admin:index")).content


def test_the_dashboard_needs_a_staff_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.parametrize("window", ["hour", "day", "week", "nonsense"])
def test_every_range_shows_its_numbers_and_charts_without_a_cdn(admin_client, window):
    now = timezone.now()
    logged_search(at=now - dt.timedelta(minutes=5), latency=0.004, fallback=True)
    event(at=now - dt.timedelta(minutes=4), event_type="impression")
    response = admin_client.get(URL, {"window": window})
    assert response.status_code == 200
    traffic = response.context["traffic"]
    assert traffic.window.name == (window if window != "nonsense" else "day")
    assert (traffic.searches, traffic.fallbacks, traffic.events) == (1, 1, 1)
    page = response.content.decode()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 5
    if traffic.percentiles_from_histogram:  # the day and the week: the 4 ms bin's middle
        assert traffic.p50_seconds == pytest.approx(0.004, rel=RELATIVE_ERROR)
        assert "3.92 ms / 3.92 ms" in page
    else:
        assert "4 ms / 4 ms" in page
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []  # nothing from another host


def test_a_silent_beat_is_a_warning_and_a_live_one_is_not(admin_client, watchdog):
    assert b'id="beat-warning"' in admin_client.get(URL).content
    PeriodicTask.objects.filter(name=WATCHDOG_NAME).update(
        last_run_at=timezone.now() - dt.timedelta(seconds=30)
    )
    page = admin_client.get(URL).content
    assert b'id="beat-warning"' not in page
    assert b'id="beat-ok"' in page


def test_the_drift_section_is_there_before_drift_is_computed(admin_client):
    assert b"Drift has not been computed yet." in admin_client.get(URL).content


def test_a_ranges_traffic_is_computed_once_per_its_cache_time(admin_client):
    now = timezone.now()
    logged_search(at=now - dt.timedelta(minutes=5))
    assert admin_client.get(URL, {"window": "hour"}).context["traffic"].searches == 1
    logged_search(at=now - dt.timedelta(minutes=4))
    assert admin_client.get(URL, {"window": "hour"}).context["traffic"].searches == 1  # from the cache
    assert admin_client.get(URL, {"window": "day"}).context["traffic"].searches == 2  # its own entry


def test_the_page_says_when_the_roll_up_last_ran_and_warns_when_it_is_stale(admin_client, settings):
    page = admin_client.get(URL, {"window": "week"}).content.decode()
    assert 'id="rollup-warning"' in page
    assert "The traffic roll-up has never run" in page
    traffic_hours_roll_up(now=timezone.now() - dt.timedelta(minutes=2))
    cache.clear()  # the week computed again, now from the roll-up
    page = admin_client.get(URL, {"window": "week"}).content.decode()
    assert 'id="rollup-warning"' not in page
    assert "Traffic roll-up: last ran" in page
    # Every whole hour of the week (one fewer when the roll-up's two minutes ago were last hour).
    assert re.search(r"16[67] hours from the roll-up", page)
    TrafficHour.objects.update(
        computed_at=timezone.now() - 3 * dt.timedelta(minutes=5) - dt.timedelta(seconds=1)
    )
    assert 'id="rollup-warning"' in admin_client.get(URL).content.decode()  # stale after three intervals
