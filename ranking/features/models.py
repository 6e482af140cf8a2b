"""The feature store: one ``FeatureSet`` per build, each row describing the events of the
set's history, ``[since, until)`` (point in time), so a training set can never see its labels.

Written only by ``ranking.services.features_build``; read whole by the snapshot loader
(``ranking.selectors.feature_snapshot_get``), never row by row on the request path. The
behaviour tables' columns come from the feature contract: the counts, then one column per
feature of the table's group (``behaviour_fields_add``), so a feature declared in the
contract needs only ``makemigrations`` to be stored.

The tables' ``feature_set`` columns have neither their own index (each table's unique
constraint starts with it) nor a database foreign key (a set's rows are written once, by one
service, in the transaction that creates them, and deleted with it by the ORM): both cost a
third of a build's writing time and guard nothing the code can get wrong.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ranking.features.contract import CONTRACT, Group
from ranking.features.tables import COUNT_COLUMNS


class FeatureSet(models.Model):
    class Purpose(models.TextChoices):
        TRAIN = "train", "training features (before T1)"
        EVAL = "eval", "evaluation features (before T2)"
        SERVING = "serving", "serving features (up to the latest event)"
        ADHOC = "adhoc", "built by hand"

    class Status(models.TextChoices):
        BUILDING = "building", "building"
        READY = "ready", "ready"
        FAILED = "failed", "failed"

    since = models.DateTimeField(
        null=True, help_text="The first moment of the history read (empty: every event before the cut-off)."
    )
    until = models.DateTimeField(help_text="Every row describes events strictly before this time.")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.ADHOC)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    contract_version = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    build_seconds = models.FloatField(default=0.0)
    events_counted = models.BigIntegerField(default=0, help_text="Events aggregated into this set.")
    counts = models.JSONField(default=dict, blank=True, help_text="Rows per table.")
    stats = models.JSONField(
        default=dict, blank=True, help_text="Global rates, category medians and price bands, totals."
    )
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["purpose", "status", "created_at"], name="featureset_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["building", "ready", "failed"]), name="featureset_status_known"
            )
        ]

    def __str__(self) -> str:
        return f"feature set {self.pk} ({self.purpose}, until {self.until:%Y-%m-%d %H:%M})"


def _feature_set_key(related_name: str) -> models.ForeignKey:
    """A row's set, without an index of its own or a database foreign key (see above)."""
    return models.ForeignKey(
        FeatureSet, on_delete=models.CASCADE, related_name=related_name, db_index=False, db_constraint=False
    )


class ProductFeatures(models.Model):
    feature_set = _feature_set_key("products")
    product_external_id = models.CharField(max_length=128)
    # The counts and the product features: behaviour_fields_add below.

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feature_set", "product_external_id"], name="productfeatures_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_external_id} @ set {self.feature_set_id}"


class QueryProductFeatures(models.Model):
    feature_set = _feature_set_key("query_products")
    query_norm = models.CharField(max_length=512)
    product_external_id = models.CharField(max_length=128)
    # The counts and the query x product features: behaviour_fields_add below.

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feature_set", "query_norm", "product_external_id"],
                name="queryproductfeatures_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.query_norm!r} x {self.product_external_id} @ set {self.feature_set_id}"


def behaviour_fields_add(model: type[models.Model], group: Group) -> None:
    """The counts and one float column per contract feature of ``group``."""
    for name in COUNT_COLUMNS:
        model.add_to_class(name, models.BigIntegerField(default=0))
    for name in CONTRACT.names_of(group):
        model.add_to_class(name, models.FloatField())


behaviour_fields_add(ProductFeatures, Group.PRODUCT)
behaviour_fields_add(QueryProductFeatures, Group.QUERY_PRODUCT)


class UserFeatures(models.Model):
    feature_set = _feature_set_key("users")
    user_id = models.CharField(max_length=128)
    engagement = models.FloatField(help_text="clicks + 2 x carts + 3 x purchases")
    price_mean = models.FloatField(
        help_text="Smoothed mean price relative to category of what they engaged with."
    )
    category_other = models.FloatField(help_text="Lift for a category the user never engaged with.")
    band_other = models.FloatField(help_text="Lift for a price band the user never engaged with.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feature_set", "user_id"], name="userfeatures_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} @ set {self.feature_set_id}"


class UserAffinity(models.Model):
    class Kind(models.TextChoices):
        CATEGORY = "category", "category"
        BAND = "band", "price band"

    feature_set = _feature_set_key("user_affinities")
    user_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=128, help_text="The category, or the price band 0-4.")
    lift = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feature_set", "user_id", "kind", "key"], name="useraffinity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} {self.kind} {self.key}: {self.lift:.2f}"


class QueryFrequency(models.Model):
    """How many lists each query had before the cut-off: head / torso / tail segments."""

    feature_set = _feature_set_key("queries")
    query_norm = models.CharField(max_length=512)
    lists = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feature_set", "query_norm"], name="queryfrequency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.query_norm!r}: {self.lists} lists"
