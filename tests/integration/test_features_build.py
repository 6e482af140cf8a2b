"""The feature store's writer (``ranking.services.features_build``) on PostgreSQL: point in
time, all or nothing, what the selectors return; and the embedded SQLite set-up running the
whole pipeline through the commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import uuid

import pandas as pd
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from catalog.models import Event
from catalog.services import synthetic_data_generate
from ranking.features.store import feature_tables_read
from ranking.models import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)
from ranking.selectors import feature_set_latest_get, feature_set_latest_id_get, feature_snapshot_get
from ranking.services import features_build

pytestmark = pytest.mark.django_db

TABLES = (ProductFeatures, QueryProductFeatures, UserFeatures, UserAffinity, QueryFrequency)


@pytest.fixture
def shop(small_config):
    return synthetic_data_generate(config=small_config)


@pytest.fixture
def until(shop) -> dt.datetime:
    """A cut-off in the middle of the events, on a whole hour."""
    middle = shop.first_timestamp + (shop.last_timestamp - shop.first_timestamp) / 2
    return middle.floor("h").to_pydatetime()


def rows_of(feature_set: FeatureSet) -> dict[str, list[tuple]]:
    """Every row of the set's tables without ids, in a stable order: two sets compare equal
    exactly when they hold the same features."""
    out = {}
    for model in TABLES:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "feature_set_id")]
        out[model.__name__] = sorted(model.objects.filter(feature_set=feature_set).values_list(*fields))
    return out


def event(**fields) -> Event:
    defaults = {
        "event_id": uuid.uuid4(),
        "user_id": "U0001",
        "session_id": "s-late",
        "query": "anything",
        "query_norm": "anything",
        "position": 1,
        "request_id": "late",
        "ingested_at": dt.datetime.now(dt.UTC),
    }
    return Event(**{**defaults, **fields})


def test_events_at_or_after_the_cut_off_change_nothing_in_the_built_tables(until):
    before = features_build(until=until).feature_set
    known = Event.objects.filter(timestamp__lt=until).first()
    Event.objects.bulk_create(
        [
            # Exactly at the cut-off, for a product, query and user the set already describes.
            event(
                event_type="click",
                timestamp=until,
                product_id=known.product_id,
                query_norm=known.query_norm,
                user_id=known.user_id,
            ),
            event(event_type="purchase", timestamp=until, product_id=known.product_id, user_id=known.user_id),
            event(
                event_type="impression", timestamp=until + dt.timedelta(days=1), product_id=known.product_id
            ),
            event(event_type="impression", timestamp=until, product_id="NEW", user_id="NEW-USER"),
        ]
    )
    later = Event.objects.filter(timestamp__gte=until)
    later.filter(event_type="impression").exclude(request_id="late").update(event_type="click")
    later.filter(event_type="add_to_cart").delete()

    after = features_build(until=until).feature_set
    assert after.status == before.status == FeatureSet.Status.READY
    in_history = Event.objects.filter(timestamp__gte=after.since, timestamp__lt=until)
    assert after.events_counted == before.events_counted == in_history.count()
    assert rows_of(after) == rows_of(before)
    assert after.stats == before.stats


def test_an_event_just_before_the_cut_off_is_counted(until):
    before = features_build(until=until).feature_set
    known = Event.objects.filter(timestamp__lt=until).first()
    Event.objects.bulk_create(
        [
            event(
                event_type="click",
                timestamp=until - dt.timedelta(microseconds=1),
                product_id=known.product_id,
            )
        ]
    )
    after = features_build(until=until).feature_set
    assert after.events_counted == before.events_counted + 1


def test_a_set_reads_the_configured_history_before_its_cut_off_and_nothing_older(until, settings):
    settings.SEARCHOP_WINDOWS = {**settings.SEARCHOP_WINDOWS, "history_days": 7}
    before = features_build(until=until).feature_set
    assert before.since == until - dt.timedelta(days=7)
    assert Event.objects.filter(timestamp__lt=before.since).exists()
    known = Event.objects.filter(timestamp__gte=before.since, timestamp__lt=until).first()
    Event.objects.bulk_create(
        [
            event(
                event_type="click",
                timestamp=before.since - dt.timedelta(microseconds=1),
                product_id=known.product_id,
            ),
            event(event_type="click", timestamp=before.since, product_id=known.product_id),
        ]
    )

    after = features_build(until=until).feature_set

    assert after.events_counted == before.events_counted + 1  # the one at the history's start
    assert (
        after.events_counted == Event.objects.filter(timestamp__gte=after.since, timestamp__lt=until).count()
    )
    assert rows_of(after)["ProductFeatures"] != rows_of(before)["ProductFeatures"]


def test_a_ready_set_records_its_window_counts_and_statistics(until):
    feature_set = features_build(until=until, purpose=FeatureSet.Purpose.TRAIN).feature_set
    assert feature_set.until == until
    assert feature_set.purpose == FeatureSet.Purpose.TRAIN
    assert feature_set.error == ""
    assert feature_set.build_seconds > 0
    for model in TABLES:
        count = model.objects.filter(feature_set=feature_set).count()
        assert count > 0, model.__name__
        assert feature_set.counts[model._meta.model_name] == count
    assert 0 < feature_set.stats["global_rates"]["ctr"] < 1
    assert set(feature_set.stats["category_median_price"]) == set(feature_set.stats["category_band_edges"])


def test_a_cut_off_before_every_event_builds_a_ready_set_without_rows(shop):
    feature_set = features_build(until=shop.first_timestamp.floor("s").to_pydatetime()).feature_set
    assert feature_set.status == FeatureSet.Status.READY
    assert feature_set.events_counted == 0
    assert all(not model.objects.filter(feature_set=feature_set).exists() for model in TABLES)
    # Its snapshot still builds every row: the catalog at every behaviour default.
    snapshot = feature_snapshot_get(feature_set=feature_set)
    assert snapshot.num_products == 120


def test_a_build_that_fails_while_writing_is_marked_failed_and_leaves_no_rows(until):
    # Another session holds a lock on the fourth table written (a migration, a VACUUM FULL):
    # the writes to the first three go through, the fourth times out.
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"],
        host=database["HOST"],
        port=database["PORT"] or 5432,
        password=database["PASSWORD"],
    ) as blocker:
        blocker.execute(f"LOCK TABLE {UserAffinity._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
        with pytest.raises(Exception, match="lock timeout"):
            features_build(until=until, purpose=FeatureSet.Purpose.SERVING)
        blocker.rollback()

    failed = FeatureSet.objects.get()
    assert failed.status == FeatureSet.Status.FAILED
    assert "LockNotAvailable" in failed.error
    assert failed.counts == {}
    assert all(not model.objects.filter(feature_set=failed).exists() for model in TABLES)
    assert feature_set_latest_get(purpose=FeatureSet.Purpose.SERVING) is None


def test_the_selectors_return_the_newest_ready_set_of_a_purpose_never_a_failed_or_building_one(until):
    train = features_build(until=until, purpose=FeatureSet.Purpose.TRAIN).feature_set
    serving = features_build(
        until=until + dt.timedelta(days=1), purpose=FeatureSet.Purpose.SERVING
    ).feature_set
    FeatureSet.objects.create(until=until, purpose="train", status="failed", contract_version="1")
    FeatureSet.objects.create(until=until, purpose="train", status="building", contract_version="1")

    assert feature_set_latest_get(purpose=FeatureSet.Purpose.TRAIN) == train
    assert feature_set_latest_id_get(purpose=FeatureSet.Purpose.TRAIN) == train.pk
    assert feature_set_latest_get() == serving
    assert feature_set_latest_id_get(purpose=FeatureSet.Purpose.EVAL) is None


def test_the_tables_read_back_are_the_tables_written_and_returned(until):
    build = features_build(until=until)
    feature_set = build.feature_set
    tables = feature_tables_read(feature_set=feature_set)
    for name in ("products", "query_products", "users", "user_affinities", "queries"):
        returned, read = getattr(build.tables, name), getattr(tables, name)
        assert list(read.columns) == list(returned.columns), name
        pd.testing.assert_frame_equal(
            read.sort_values(list(read.columns)).reset_index(drop=True),
            returned.sort_values(list(read.columns)).reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )
    products = tables.products.set_index("product_id")
    stored = ProductFeatures.objects.filter(feature_set=feature_set)
    assert len(products) == stored.count()
    row = stored.order_by("-impressions").first()
    assert products.loc[row.product_external_id, "p_ctr_lift"] == row.p_ctr_lift
    assert products.loc[row.product_external_id, "impressions"] == row.impressions
    assert tables.stats == feature_set.stats

    snapshot = feature_snapshot_get(feature_set=feature_set)
    assert snapshot.feature_set_id == feature_set.pk
    assert pd.Timestamp(snapshot.until) == pd.Timestamp(until)
    assert len(snapshot.qp_row) == QueryProductFeatures.objects.filter(feature_set=feature_set).count()


def test_the_embedded_sqlite_set_up_builds_the_features_and_runs_the_pipeline_through_the_commands(tmp_path):
    database = tmp_path / "x.sqlite3"
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "TEST_DATABASE_NAME")},
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "x",
        "SEARCHOP_VAR_DIR": str(tmp_path),
        # Fewer rounds and resamples: this checks the embedded path end to end, not the metrics.
        "SEARCHOP_NUM_BOOST_ROUND": "20",
        "SEARCHOP_BOOTSTRAP_RESAMPLES": "100",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert manage("migrate", "-v", "0").returncode == 0
    generated = manage(
        "generate_synthetic_data",
        "--products",
        "120",
        "--categories",
        "4",
        "--users",
        "60",
        "--events",
        "6000",
    )
    assert generated.returncode == 0, generated.stderr
    pipeline = manage("run_pipeline", "--json")
    assert pipeline.returncode == 0, pipeline.stderr
    report = json.loads(pipeline.stdout)
    assert report["version"] == 1
    assert report["decision"]["action"] in ("promoted", "rejected")
    assert report["decision"]["reason"]
    assert report["counts"]["train_lists"] > 0
    assert report["metrics"]["model"]["ndcg@10"] is not None
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT status FROM training_pipelinerun").fetchall() == [("succeeded",)]
        purposes = db.execute("SELECT purpose FROM ranking_featureset WHERE status = 'ready'").fetchall()
    assert sorted(p for (p,) in purposes) == ["eval", "serving", "train"]
