"""The drift check's statuses, the stored report as the command and /metrics show it, the
pruning of old samples and the beat task (its schedule migration is tested with the other
seeded tasks in tests/integration/test_pipeline_schedule_migration.py)."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from ranking.drift.compute import Served, Thresholds, drift_compute, profile_make
from ranking.drift.gauges import drift_gauges_refresh
from ranking.drift.services import drift_check, drift_profile_record
from ranking.features.contract import NAMES
from ranking.models import DriftReport, DriftSample, ModelStatus
from ranking.serving.drift_sampling import SAMPLER
from ranking.tasks import drift_check_task
from tests.integration.api.support import metric_value
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_held_samples():
    """Rows another test's requests left in this process's sampler are never written here."""
    SAMPLER.reset()


def _profile() -> dict:
    rng = np.random.default_rng(0)
    return profile_make(
        names=NAMES,
        features=rng.random((500, len(NAMES))),
        scores=rng.normal(size=500),
        queries=["shoes"],
        eval_queries=["shoes"],
        ctr=0.3,
        features_until="2026-01-01T00:00:00+00:00",
    )


def _sample(at: dt.datetime, rows: int = 3) -> DriftSample:
    return DriftSample.objects.create(
        created_at=at,
        model_version=1,
        query_norm="shoes",
        num_features=len(NAMES),
        num_rows=rows,
        features=np.zeros((rows, len(NAMES))).tobytes(),
    )


def test_with_no_production_model_the_report_says_so():
    report = drift_check()
    assert report.result["status"] == "no production model"
    assert not report.flagged


def test_a_version_registered_before_profiles_has_no_reference():
    ModelVersionFactory(version=4, status=ModelStatus.PRODUCTION)
    report = drift_check()
    assert report.result["status"] == "v4 was registered before drift profiles were kept: no reference"


def test_too_few_sampled_searches_are_counted_not_compared():
    version = ModelVersionFactory(version=2, status=ModelStatus.PRODUCTION)
    drift_profile_record(version=version, profile=_profile())
    for _ in range(3):
        _sample(timezone.now())
    report = drift_check()
    assert report.result["searches"] == 3
    assert "fewer than 100" in report.result["status"]


def test_samples_older_than_the_kept_days_are_pruned():
    old = _sample(timezone.now() - dt.timedelta(days=settings.SEARCHOP_DRIFT["keep_days"], hours=1))
    recent = _sample(timezone.now() - dt.timedelta(hours=1))
    drift_check()
    assert DriftSample.objects.filter(pk=recent.pk).exists()
    assert not DriftSample.objects.filter(pk=old.pk).exists()


def _stored_report() -> DriftReport:
    rng = np.random.default_rng(1)
    features = rng.random((300, len(NAMES)))
    features[:, NAMES.index("p_log_price")] += 1.0
    served = Served(features=features, names=NAMES, scores=None, queries=["shoes"] * 10)
    result = drift_compute(_profile(), served, thresholds=Thresholds())
    return DriftReport.objects.create(
        flagged=result["flagged"],
        result={"computed_at": timezone.now().isoformat(), "window_hours": 24.0, "model_version": 3,
                "status": "ok", **result},
    )  # fmt: skip


def test_drift_report_latest_lists_every_feature_with_its_psi_threshold_and_flag():
    _stored_report()
    out = io.StringIO()
    call_command("drift_report", "--latest", stdout=out)
    text = out.getvalue()
    assert "FLAGGED" in text
    for name in NAMES:
        assert name in text
    assert "unseen queries: 0.000 of searches" in text

    out = io.StringIO()
    call_command("drift_report", "--latest", "--json", stdout=out)
    rows = {row["feature"]: row for row in json.loads(out.getvalue())["features"]}
    assert set(rows) == set(NAMES)
    assert rows["p_log_price"]["flagged"]
    assert rows["p_log_price"]["threshold"] == 0.2


def test_drift_report_latest_before_any_report_is_a_clear_error():
    with pytest.raises(CommandError, match="No drift report yet"):
        call_command("drift_report", "--latest")


def test_metrics_export_the_latest_report_as_gauges():
    report = _stored_report()
    drift_gauges_refresh(force=True)
    client = Client()
    psi = {row["feature"]: row["psi"] for row in report.result["features"]}
    assert metric_value(client, "searchop_feature_psi", feature="p_log_price") == pytest.approx(
        psi["p_log_price"]
    )
    assert metric_value(client, "searchop_drift_flagged") == 1.0
    assert metric_value(client, "searchop_unseen_query_share") == 0.0


def test_the_beat_task_stores_a_report():
    assert drift_check_task() is False
    assert DriftReport.objects.get().result["status"] == "no production model"


def test_the_version_page_says_a_version_without_profile_has_no_reference(admin_client):
    version = ModelVersionFactory(version=5)
    page = admin_client.get(f"/admin/ranking/modelversion/{version.pk}/change/")
    assert page.status_code == 200
    assert "No reference profile" in page.content.decode()


def test_the_version_page_shows_its_latest_drift_report_largest_psi_first(admin_client):
    version = ModelVersionFactory(version=6, status=ModelStatus.PRODUCTION)
    drift_profile_record(version=version, profile=_profile())
    report = _stored_report()
    DriftReport.objects.filter(pk=report.pk).update(model_version=version)

    text = admin_client.get(f"/admin/ranking/modelversion/{version.pk}/change/").content.decode()

    assert "Drift flagged over 10 sampled searches" in text
    first_feature = text.index("<td>p_log_price</td>")
    assert all(first_feature < text.index(f"<td>{name}</td>") for name in NAMES if name != "p_log_price")


def test_a_production_model_that_cannot_be_loaded_is_reported_not_raised():
    # The factory's tiny model has four features, not the contract's: verification refuses it.
    version = ModelVersionFactory(version=7, status=ModelStatus.PRODUCTION)
    drift_profile_record(version=version, profile=_profile())
    now = timezone.now()
    DriftSample.objects.bulk_create(
        DriftSample(created_at=now, query_norm="shoes", num_features=len(NAMES), num_rows=1,
                    features=np.zeros((1, len(NAMES))).tobytes())
        for _ in range(settings.SEARCHOP_DRIFT["min_searches"])
    )  # fmt: skip
    report = drift_check()
    assert report.result["status"].startswith("the model cannot be loaded: v7")
    assert not report.flagged


def test_the_dashboard_shows_the_latest_drift_report(admin_client):
    _stored_report()
    text = admin_client.get("/admin/dashboard/").content.decode()
    assert "Drift flagged over 10 sampled searches" in text
    assert "<td>p_log_price</td>" in text
