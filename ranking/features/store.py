"""The feature store: a feature set's tables written to the database and read back.

Which columns each table holds comes from the feature tables' declaration
(``tables.behaviour_columns``, derived from the contract), so writing and reading never
name a feature. Product ids are the catalog's external ids (``product_external_id``).
"""

from __future__ import annotations

import pandas as pd
from django.db import models

from catalog import loading
from ranking.features.contract import Group
from ranking.features.tables import (
    AFFINITY_COLUMNS,
    QUERY_COLUMNS,
    USER_COLUMNS,
    FeatureTables,
    behaviour_columns,
)
from ranking.models import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)

PRODUCT_ID = {"product_id": "product_external_id"}
# The tables of a set: (attribute of FeatureTables, model, the frame's columns).
TABLES: tuple[tuple[str, type[models.Model], list[str]], ...] = (
    ("products", ProductFeatures, behaviour_columns(Group.PRODUCT)),
    ("query_products", QueryProductFeatures, behaviour_columns(Group.QUERY_PRODUCT)),
    ("users", UserFeatures, USER_COLUMNS),
    ("user_affinities", UserAffinity, AFFINITY_COLUMNS),
    ("queries", QueryFrequency, QUERY_COLUMNS),
)


def feature_tables_write(*, feature_set: FeatureSet, tables: FeatureTables) -> dict[str, int]:
    """Insert every table of ``tables`` as rows of ``feature_set`` (COPY on PostgreSQL);
    returns the rows per table. Inside the caller's transaction."""
    counts: dict[str, int] = {}
    for attribute, model, columns in TABLES:
        frame = getattr(tables, attribute)[columns].rename(columns=PRODUCT_ID)
        counts[str(model._meta.model_name)] = loading.rows_insert(
            model=model, frame=frame.assign(feature_set_id=feature_set.pk)
        )
    return counts


def feature_tables_read(*, feature_set: FeatureSet) -> FeatureTables:
    """A ready feature set's tables as frames, in the shape ``feature_tables_compute`` gives."""
    frames = {}
    for attribute, model, columns in TABLES:
        stored = [PRODUCT_ID.get(name, name) for name in columns]
        rows = model._default_manager.filter(feature_set=feature_set).values_list(*stored)
        frames[attribute] = pd.DataFrame.from_records(rows.iterator(chunk_size=20_000), columns=columns)
    return FeatureTables(**frames, stats=feature_set.stats)
