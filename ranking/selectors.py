"""Reads of the model registry and the feature store, shared by serving, the services, the
admin and the commands."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db import models
from django.db.models import QuerySet

from catalog.selectors import catalog_frame_get
from ranking import feature_compute, matrix
from ranking.errors import ModelVersionNotFound
from ranking.models import (
    FeatureSet,
    ModelStatus,
    ModelVersion,
    ModelVersionTransition,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    TransitionKind,
    UserAffinity,
    UserFeatures,
)

# Columns a listing needs: everything except the model text, which can be megabytes.
LIST_FIELDS = (
    "id",
    "version",
    "status",
    "created_at",
    "report",
    "decision",
    "num_trees",
    "model_sha256",
    "data_digest",
    "training_seconds",
    "notes",
)

KEY_METRICS = ("ndcg@10", "mrr", "ctr@10")
BASELINES = ("production", "bm25", "popularity", "logging", "random", "oracle")


def model_version_production_get() -> ModelVersion | None:
    """The production version with its model text, or None when there is none."""
    return ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).first()


def model_version_production_id_get() -> tuple[int, str] | None:
    """``(id, model_sha256)`` of the production version, or None. One indexed row and two
    columns: cheap enough for serving to poll every few seconds."""
    return (
        ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).values_list("id", "model_sha256").first()
    )


def model_version_get(*, version: int) -> ModelVersion:
    """The version numbered ``version`` (with its model text); raises ModelVersionNotFound."""
    try:
        return ModelVersion.objects.get(version=version)
    except ModelVersion.DoesNotExist:
        raise ModelVersionNotFound(version) from None


def model_version_list() -> QuerySet[ModelVersion]:
    """Every version, newest first, without the model text."""
    return ModelVersion.objects.only(*LIST_FIELDS).order_by("-version")


def model_version_history_get(*, version: int) -> QuerySet[ModelVersionTransition]:
    """The audit trail of one version, oldest first."""
    return (
        ModelVersionTransition.objects.filter(model_version__version=version)
        .select_related("model_version", "user", "replaced")
        .order_by("created_at", "id")
    )


def model_version_rollback_target_get() -> ModelVersion | None:
    """The version a rollback would restore, or None when there is no production version
    or nothing earlier to return to.

    Promotions form a stack that the audit trail records; a rollback pops it:
    1. walk the promote transitions newest first;
    2. skip the current production version;
    3. skip a promotion that a later rollback already undid (the version was demoted *by a
       rollback* after that promotion), so rolling back twice goes two steps back, not
       back and forth;
    4. skip rejected versions;
    5. the first version left is the target.

    Transitions are ordered by id: every registry write holds the registry lock, so ids
    follow the order of the changes even if clocks of two hosts disagree.
    """
    current = ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).only("id").first()
    if current is None:
        return None
    last_rolled_back: dict[int, int] = {}
    for model_version_id, transition_id in ModelVersionTransition.objects.filter(
        kind=TransitionKind.ROLLBACK
    ).values_list("model_version_id", "id"):
        last_rolled_back[model_version_id] = max(transition_id, last_rolled_back.get(model_version_id, 0))
    promotions = (
        ModelVersionTransition.objects.filter(kind=TransitionKind.PROMOTE)
        .exclude(model_version_id=current.id)
        .order_by("-id")
        .values_list("model_version_id", "id")
    )
    for model_version_id, transition_id in promotions:
        if last_rolled_back.get(model_version_id, 0) > transition_id:
            continue
        candidate = (
            ModelVersion.objects.filter(id=model_version_id).exclude(status=ModelStatus.REJECTED).first()
        )
        if candidate is not None:
            return candidate
    return None


# ------------------------------------------------------------------------------
# Reading evaluation reports. Reports come from the evaluation code and may lack any key
# or hold nulls; everything below returns None for what it cannot read, never raises.
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyMetrics:
    model: dict[str, float | None] = field(default_factory=dict)
    baselines: dict[str, float | None] = field(default_factory=dict)  # ndcg@10 of each baseline
    debiased_model: float | None = None
    debiased_logging: float | None = None
    truth_model: float | None = None
    truth_bm25: float | None = None
    interval_model_bm25: tuple[float, float] | None = None
    decision_action: str = ""
    decision_reason: str = ""


@dataclass(frozen=True)
class MetricHistoryRow:
    pk: int
    version: int
    status: str
    created_at: Any
    num_trees: int
    metrics: KeyMetrics


def report_key_metrics(report: Any, decision: Any = None) -> KeyMetrics:
    """The numbers the control room shows for one report (ndcg@10, mrr, ctr@10 of the model;
    ndcg@10 of each baseline; debiased and true ndcg@10; the model-bm25 interval)."""
    report = report if isinstance(report, dict) else {}
    metrics = _dict(report.get("metrics"))
    model = _dict(metrics.get("model"))
    interval = _dict(_dict(report.get("intervals")).get("model-bm25")).get("ndcg@10")
    decision = _dict(decision) or _dict(report.get("decision"))
    return KeyMetrics(
        model={name: _number(model.get(name)) for name in KEY_METRICS},
        baselines={name: _number(_dict(metrics.get(name)).get("ndcg@10")) for name in BASELINES},
        debiased_model=_path(report, "debiased", "model", "ndcg@10"),
        debiased_logging=_path(report, "debiased", "logging", "ndcg@10"),
        truth_model=_path(report, "truth", "model", "ndcg@10"),
        truth_bm25=_path(report, "truth", "bm25", "ndcg@10"),
        interval_model_bm25=_interval(interval),
        decision_action=str(decision.get("action") or ""),
        decision_reason=str(decision.get("reason") or ""),
    )


def model_version_metric_history_get() -> list[MetricHistoryRow]:
    """Every version's key metrics beside its baselines, newest first."""
    return [
        MetricHistoryRow(
            pk=row.pk,
            version=row.version,
            status=row.status,
            created_at=row.created_at,
            num_trees=row.num_trees,
            metrics=report_key_metrics(row.report, row.decision),
        )
        for row in model_version_list()
    ]


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _path(report: dict, *keys: str) -> float | None:
    value: Any = report
    for key in keys:
        value = _dict(value).get(key)
    return _number(value)


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return (low, high)
    return None


# ---------------------------------------------------------------------------------------
# Feature store
# ---------------------------------------------------------------------------------------


def feature_set_latest_get(*, purpose: str | None = None) -> FeatureSet | None:
    """The newest ready feature set (of ``purpose``, if given)."""
    sets = FeatureSet.objects.filter(status=FeatureSet.Status.READY)
    if purpose:
        sets = sets.filter(purpose=purpose)
    return sets.order_by("-created_at", "-id").first()


def feature_set_latest_id_get(*, purpose: str) -> int | None:
    """Only the id: serving checks it every couple of seconds."""
    return (
        FeatureSet.objects.filter(status=FeatureSet.Status.READY, purpose=purpose)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def feature_tables_get(*, feature_set: FeatureSet) -> feature_compute.FeatureTables:
    """A ready feature set's tables as frames, in the shape ``feature_compute`` produces."""

    def frame(
        model: type[models.Model], columns: list[str], rename: dict[str, str] | None = None
    ) -> pd.DataFrame:
        rows = model._default_manager.filter(feature_set=feature_set).values_list(*columns)
        return pd.DataFrame.from_records(rows.iterator(chunk_size=20_000), columns=columns).rename(
            columns=rename or {}
        )

    product_id = {"product_external_id": "product_id"}
    return feature_compute.FeatureTables(
        products=frame(ProductFeatures, feature_compute.PRODUCT_TABLE_COLUMNS, product_id),
        query_products=frame(QueryProductFeatures, feature_compute.QP_TABLE_COLUMNS, product_id),
        users=frame(UserFeatures, feature_compute.USER_TABLE_COLUMNS),
        user_affinities=frame(UserAffinity, feature_compute.AFFINITY_TABLE_COLUMNS),
        queries=frame(QueryFrequency, ["query_norm", "lists"]),
        stats=feature_set.stats,
    )


def feature_snapshot_get(*, feature_set: FeatureSet) -> matrix.FeatureSnapshot:
    """Everything the matrix builder needs for ``feature_set``: its tables and the catalog
    (attributes, text statistics). Built once per set; seconds for large catalogs."""
    return feature_compute.snapshot_build(
        catalog=catalog_frame_get(),
        tables=feature_tables_get(feature_set=feature_set),
        until=feature_set.until.isoformat(),
        feature_set_id=feature_set.pk,
    )
