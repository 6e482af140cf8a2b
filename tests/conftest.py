"""Shared fixtures. Tests run against the real PostgreSQL and Redis named by DATABASE_URL and
REDIS_URL (``python3.11 run.py test`` sets the defaults); nothing here mocks them."""

from __future__ import annotations

import pytest

from catalog.synthetic import SyntheticConfig


def pytest_collection_modifyitems(items):
    """Each test gets the marker of its layer from its folder (tests/unit -> unit, ...)."""
    for item in items:
        for layer in ("unit", "integration", "model", "e2e", "bench", "faults", "deploy"):
            if f"/tests/{layer}/" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """The production storage needs ``collectstatic``'s manifest; tests render pages without it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def small_config() -> SyntheticConfig:
    """A shop small enough for a database test to generate in about a second."""
    return SyntheticConfig(products=120, categories=4, users=60, events=6_000, seed=3)


@pytest.fixture
def weekly_schedule(db, settings):
    """The weekly pipeline's PeriodicTask as beat installs it from the settings (a
    transactional test may have flushed the row the migrations seeded)."""
    from django_celery_beat.schedulers import ModelEntry

    from searchop_site.celery import app

    entry = ModelEntry.from_entry(
        "weekly-pipeline", app=app, **settings.CELERY_BEAT_SCHEDULE["weekly-pipeline"]
    )
    return entry.model
