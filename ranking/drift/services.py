"""Drift monitoring's writers: the reference profile saved with a model version, and the
check that compares the last day's served samples with the production model's profile
(``ranking.drift.compute``), stores the report and prunes old samples."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ranking.drift.compute import Served, Thresholds, drift_compute
from ranking.drift.selectors import ctr_rates_get
from ranking.errors import RegistryError
from ranking.features.contract import CONTRACT, NAMES, Group
from ranking.model_loading import booster_load
from ranking.models import DriftProfile, DriftReport, DriftSample, ModelVersion
from ranking.selectors import model_version_production_get

REPORTS_KEPT_DAYS = 90  # an hourly report: about 2,000 rows


def drift_profile_record(*, version: ModelVersion, profile: dict[str, Any]) -> DriftProfile:
    """Save (or replace) the reference profile of ``version``."""
    saved, _ = DriftProfile.objects.update_or_create(model_version=version, defaults={"profile": profile})
    return saved


def thresholds_from_settings() -> Thresholds:
    config = settings.SEARCHOP_DRIFT
    return Thresholds(
        psi=config["psi_threshold"],
        score_psi=config["score_psi_threshold"],
        unseen_increase=config["unseen_increase"],
        ctr_relative_change=config["ctr_relative_change"],
        features={
            **dict.fromkeys(CONTRACT.names_of(Group.CATALOG), config["catalog_psi_threshold"]),
            **config["feature_thresholds"],
        },
        watched=tuple(config["watched_features"]),
    )


def _served_load(since: datetime) -> Served:
    """The sampled rows since ``since`` of the contract this code builds."""
    newest = DriftSample.objects.filter(created_at__gte=since, num_features=len(NAMES)).order_by(
        "-created_at"
    )
    limit = settings.SEARCHOP_DRIFT["max_searches"]
    samples = list(newest.values_list("features", "query_norm")[:limit])
    blocks = [np.frombuffer(bytes(raw), dtype=np.float64).reshape(-1, len(NAMES)) for raw, _ in samples]
    features = np.vstack(blocks) if blocks else np.zeros((0, len(NAMES)))
    return Served(features=features, names=NAMES, scores=None, queries=[q for _, q in samples])


def drift_check(*, now: datetime | None = None) -> DriftReport:
    """Compare the served samples of the last ``window_hours`` with the production model's
    profile and store the report (with a status instead of numbers when there is no production
    model, no profile, too few samples or a model that cannot be loaded); prune samples older
    than ``keep_days`` and reports older than ``REPORTS_KEPT_DAYS``."""
    config = settings.SEARCHOP_DRIFT
    now = now or timezone.now()
    DriftSample.objects.filter(created_at__lt=now - timedelta(days=config["keep_days"])).delete()
    DriftReport.objects.filter(computed_at__lt=now - timedelta(days=REPORTS_KEPT_DAYS)).delete()
    production = model_version_production_get()
    base: dict[str, Any] = {"computed_at": now.isoformat(), "window_hours": config["window_hours"]}
    if production is None:
        return DriftReport.objects.create(result={**base, "status": "no production model"})
    base["model_version"] = production.version
    profile_row = DriftProfile.objects.filter(model_version=production).first()
    if profile_row is None:
        status = f"v{production.version} was registered before drift profiles were kept: no reference"
        return DriftReport.objects.create(model_version=production, result={**base, "status": status})
    profile = profile_row.profile
    served = _served_load(now - timedelta(hours=config["window_hours"]))
    if len(served.queries) < config["min_searches"]:
        status = f"{len(served.queries)} sampled searches in the window, fewer than {config['min_searches']}"
        return DriftReport.objects.create(
            model_version=production, result={**base, "status": status, "searches": len(served.queries)}
        )
    try:
        booster = booster_load(model_version=production)
    except RegistryError as error:  # serving falls back to BM25 too: nothing to score with
        return DriftReport.objects.create(
            model_version=production, result={**base, "status": f"the model cannot be loaded: {error}"}
        )
    served = Served(
        features=served.features,
        names=served.names,
        scores=np.asarray(booster.predict(served.features)) if len(served.features) else None,
        queries=served.queries,
    )
    ctr_day, ctr_trailing = ctr_rates_get(now=now, trailing_days=config["ctr_trailing_days"])
    result = drift_compute(
        profile, served, thresholds=thresholds_from_settings(), ctr_day=ctr_day, ctr_trailing=ctr_trailing
    )
    with transaction.atomic():
        return DriftReport.objects.create(
            model_version=production, flagged=result["flagged"], result={**base, "status": "ok", **result}
        )
