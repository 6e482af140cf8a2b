"""The feature store's writer: ``features_build`` aggregates the events of the history
before a cut-off in the database, computes every feature table of that cut-off and writes
them as one ``FeatureSet``. It returns the tables too, so a caller that needs the snapshot
(the pipeline) builds it from them instead of reading every table back.

Every feature set, for training, evaluation or serving, reads the same length of history
(``SEARCHOP_WINDOWS["history_days"]``) before its cut-off: counts, ages and smoothed rates
then mean the same thing wherever the model meets them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings
from django.db import transaction

from catalog.progress import Reporter
from catalog.selectors import catalog_frame_get, event_latest_timestamp_get
from ranking.features.aggregate import event_counts_aggregate
from ranking.features.contract import CONTRACT_VERSION
from ranking.features.snapshot import FeatureSnapshot, snapshot_build
from ranking.features.store import feature_tables_write
from ranking.features.tables import FeatureTables, feature_tables_compute
from ranking.models import FeatureSet
from ranking.reports import json_safe


@dataclass
class FeatureBuild:
    """A built feature set with the tables it holds and the catalog they were computed with."""

    feature_set: FeatureSet
    tables: FeatureTables
    catalog: pd.DataFrame

    def snapshot(self) -> FeatureSnapshot:
        return snapshot_build(
            catalog=self.catalog,
            tables=self.tables,
            until=self.feature_set.until.isoformat(),
            feature_set_id=self.feature_set.pk,
        )


def feature_history_start(*, until: datetime) -> datetime:
    """The first moment of the history a feature set with cut-off ``until`` reads."""
    return until - timedelta(days=settings.SEARCHOP_WINDOWS["history_days"])


def features_build(
    *, until: datetime, purpose: str = FeatureSet.Purpose.ADHOC, reporter: Reporter | None = None
) -> FeatureBuild:
    """Build every feature table from the events of the history before ``until``
    (``[feature_history_start(until), until)``).

    Point in time: no event at or after ``until`` is read, so features for lists shown
    after the cut-off cannot see their own labels. Transactional: the tables appear all
    at once with the set marked ``ready``; a build that fails leaves its set ``failed``
    with the error and no rows.
    """
    reporter = reporter or Reporter.silent()
    started = time.perf_counter()
    since = feature_history_start(until=until)
    feature_set = FeatureSet.objects.create(
        since=since,
        until=until,
        purpose=purpose,
        status=FeatureSet.Status.BUILDING,
        contract_version=CONTRACT_VERSION,
    )
    try:
        counts = event_counts_aggregate(since=since, until=until, reporter=reporter)
        with reporter.step("Computing features") as info:
            catalog = catalog_frame_get()
            tables = feature_tables_compute(
                catalog=catalog,
                product_counts=counts.product_counts,
                query_product_counts=counts.query_product_counts,
                user_product_counts=counts.user_product_counts,
                query_lists=counts.query_lists,
                until=pd.Timestamp(until),
            )
            info.update(
                products=len(tables.products),
                query_products=len(tables.query_products),
                users=len(tables.users),
            )
        with reporter.step("Writing the feature tables") as info, transaction.atomic():
            rows = feature_tables_write(feature_set=feature_set, tables=tables)
            info.update(rows)
            FeatureSet.objects.filter(pk=feature_set.pk).update(
                status=FeatureSet.Status.READY,
                counts=rows,
                stats=json_safe(tables.stats),
                events_counted=counts.events,
                build_seconds=time.perf_counter() - started,
            )
    except Exception as error:
        FeatureSet.objects.filter(pk=feature_set.pk).update(
            status=FeatureSet.Status.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    feature_set.refresh_from_db()
    return FeatureBuild(feature_set=feature_set, tables=tables, catalog=catalog)


def serving_features_build(*, reporter: Reporter | None = None) -> FeatureBuild:
    """The serving feature set: the history up to the latest event (the cut-off just after it)."""
    latest = event_latest_timestamp_get()
    if latest is None:
        raise FeaturesUnavailable("There are no events yet: generate or import some first.")
    return features_build(
        until=latest + timedelta(microseconds=1), purpose=FeatureSet.Purpose.SERVING, reporter=reporter
    )


class FeaturesUnavailable(Exception):
    """Nothing to build features from."""
