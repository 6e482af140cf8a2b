"""Reads of the model registry and the feature store, shared by serving, the services, the
admin and the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from catalog.selectors import catalog_frame_get
from ranking.errors import ModelVersionNotFound
from ranking.features.contract import CONTRACT_VERSION
from ranking.features.snapshot import FeatureSnapshot, snapshot_build
from ranking.features.store import feature_tables_read
from ranking.models import FeatureSet, ModelStatus, ModelVersion, ModelVersionTransition, TransitionKind
from ranking.reports import KeyMetrics, report_key_metrics

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


def model_version_production_get() -> ModelVersion | None:
    """The production version with its model text, or None when there is none."""
    return ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).first()


def model_version_production_key_get() -> tuple[int, str] | None:
    """``(version, model_sha256)`` of the production version, or None. One indexed row and
    two columns: cheap enough for serving to poll every few seconds."""
    return (
        ModelVersion.objects.filter(status=ModelStatus.PRODUCTION)
        .values_list("version", "model_sha256")
        .first()
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


@dataclass(frozen=True)
class MetricHistoryRow:
    pk: int
    version: int
    status: str
    created_at: Any
    num_trees: int
    metrics: KeyMetrics


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


@dataclass(frozen=True)
class ProductionPeriod:
    version: int
    start: datetime
    end: datetime | None  # None: still in production


def model_version_production_periods_get() -> list[ProductionPeriod]:
    """Every period a version served as production, oldest first, from the audit trail: a
    period opens with a transition to production (a promotion or a rollback) and closes with
    the version's next transition out of it. One query over the transitions, no model text."""
    rows = (
        ModelVersionTransition.objects.filter(
            Q(to_status=ModelStatus.PRODUCTION) | Q(from_status=ModelStatus.PRODUCTION)
        )
        .order_by("id")
        .values_list("model_version__version", "to_status", "created_at")
    )
    periods: list[ProductionPeriod] = []
    open_since: dict[int, datetime] = {}
    for version, to_status, created_at in rows:
        if to_status == ModelStatus.PRODUCTION:
            open_since.setdefault(version, created_at)
        elif version in open_since:
            periods.append(ProductionPeriod(version, open_since.pop(version), created_at))
    periods += [ProductionPeriod(version, start, None) for version, start in open_since.items()]
    return sorted(periods, key=lambda period: period.start)


# ---------------------------------------------------------------------------------------
# Feature store
# ---------------------------------------------------------------------------------------


def feature_set_latest_get(*, purpose: str | None = None) -> FeatureSet | None:
    """The newest ready feature set (of ``purpose``, if given)."""
    sets = FeatureSet.objects.filter(status=FeatureSet.Status.READY)
    if purpose:
        sets = sets.filter(purpose=purpose)
    return sets.order_by("-created_at", "-id").first()


def feature_set_ready_get(*, until: datetime, purpose: str) -> FeatureSet | None:
    """The newest ready feature set of ``purpose`` cut off at exactly ``until`` (built with
    this code's feature contract), or None."""
    return (
        FeatureSet.objects.filter(
            status=FeatureSet.Status.READY, purpose=purpose, until=until, contract_version=CONTRACT_VERSION
        )
        .order_by("-created_at", "-id")
        .first()
    )


def feature_set_latest_id_get(*, purpose: str) -> int | None:
    """Only the id: serving checks it every couple of seconds."""
    return (
        FeatureSet.objects.filter(status=FeatureSet.Status.READY, purpose=purpose)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def feature_snapshot_get(*, feature_set: FeatureSet) -> FeatureSnapshot:
    """Everything the matrix builder needs for ``feature_set``: its tables and the catalog
    (attributes, text statistics). Built once per set; seconds for large catalogs."""
    return snapshot_build(
        catalog=catalog_frame_get(),
        tables=feature_tables_read(feature_set=feature_set),
        until=feature_set.until.isoformat(),
        feature_set_id=feature_set.pk,
    )


@dataclass(frozen=True)
class DataWindow:
    """The lists a model version was trained, validated and evaluated on: events and
    impression-log rows shown in [start, end)."""

    start: datetime
    end: datetime
    version: int
    status: str

    def __str__(self) -> str:
        return (
            f"v{self.version} ({self.status}) was trained and evaluated on lists shown "
            f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"
        )


# Every version that serves, or could serve again through a promote or a rollback: its report
# must stay reproducible. A rejected version can never be promoted again.
STATUSES_WHOSE_DATA_IS_KEPT = (ModelStatus.PRODUCTION, ModelStatus.ARCHIVED, ModelStatus.CANDIDATE)


def model_version_data_windows_get() -> list[DataWindow]:
    """The data windows of every version that serves or could serve again, oldest first.
    A version registered from LETOR files (no windows) was not computed from these tables."""
    windows = []
    for version, status, window in ModelVersion.objects.filter(
        status__in=STATUSES_WHOSE_DATA_IS_KEPT
    ).values_list("version", "status", "windows"):
        if window.get("train") and window.get("eval"):
            start, end = datetime.fromisoformat(window["train"][0]), datetime.fromisoformat(window["eval"][1])
            windows.append(DataWindow(start=start, end=end, version=version, status=status))
    return sorted(windows, key=lambda item: (item.start, item.version))
