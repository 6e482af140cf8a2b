"""The shop's catalog and its clickstream.

``Event`` is planned for tens of millions of rows: its indexes serve time-window scans
(``timestamp``) and per-(query, product) aggregation, and no page or command counts or
loads the whole table casually. On PostgreSQL ``Event`` and ``SearchRequest`` are
partitioned by month of ``timestamp`` (``catalog.partitions``), so a unique key on either
must include ``timestamp``; the embedded SQLite keeps plain tables with the same keys.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Q


class Product(models.Model):
    external_id = models.CharField(
        max_length=128, unique=True, help_text="The shop's own id for the product."
    )
    title = models.CharField(max_length=512)
    description = models.TextField(blank=True, default="")
    brand = models.CharField(max_length=128, blank=True, default="")
    category = models.CharField(max_length=128, blank=True, default="", db_index=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    rating = models.DecimalField(
        max_digits=3, decimal_places=2, null=True, blank=True, help_text="0 to 5; empty when unrated."
    )
    attributes = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | (Q(rating__gte=0) & Q(rating__lte=5)),
                name="product_rating_between_0_and_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.title}"


class EventType(models.TextChoices):
    IMPRESSION = "impression", "impression"
    CLICK = "click", "click"
    ADD_TO_CART = "add_to_cart", "add to cart"
    PURCHASE = "purchase", "purchase"


# An event is stored once per ``event_id``. The database key is (``event_id``, ``timestamp``),
# since a partitioned table's unique keys must hold its partition key: an event re-sent as it
# was is a conflict there, whoever sends it and however concurrently. A copy whose id is
# already stored with another time within this window of its own, or that repeats an id
# earlier in the same batch, is skipped by the loaders (``catalog.loading``): /api/events
# stamps an event sent without a time with its arrival, so a retried batch lands within
# minutes of the first. An id sent again with a time further away than the window is stored
# as another event (a client reusing ids weeks apart has a bug this cannot see).
EVENT_RESEND_WINDOW = timedelta(days=7)


class Event(models.Model):
    """One clickstream event, tied to the ranking request whose list showed the product.

    ``product`` points at ``Product.external_id`` without a database constraint: an event
    for a product the catalog does not know yet is kept, and joins the product as soon as
    a product with that ``external_id`` is imported.
    """

    event_id = models.UUIDField(help_text="Sent by the client; a re-sent event is stored once.")
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    timestamp = models.DateTimeField(db_index=True)
    user_id = models.CharField(max_length=128, blank=True, default="")
    session_id = models.CharField(max_length=128, blank=True, default="")
    query = models.CharField(max_length=512, blank=True, default="", help_text="As typed.")
    query_norm = models.CharField(max_length=512, blank=True, default="", help_text="Normalised.")
    product = models.ForeignKey(
        Product,
        to_field="external_id",
        db_column="product_external_id",
        db_constraint=False,
        db_index=False,  # indexed in Meta: without the unused LIKE copy Django adds here
        on_delete=models.DO_NOTHING,
        related_name="events",
    )
    position = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1-based.")
    request_id = models.CharField(max_length=64, blank=True, default="")
    ingested_at = models.DateTimeField()

    class Meta:
        # Plain B-tree indexes declared here: ``db_index=True`` on a text column also makes
        # PostgreSQL keep a ``varchar_pattern_ops`` copy for LIKE, which nothing here runs
        # (look-ups are exact) and every insert would pay for.
        indexes = [
            models.Index(fields=["query_norm", "product"], name="event_query_product_idx"),
            models.Index(fields=["product"], name="event_product_idx"),
            models.Index(fields=["request_id"], name="event_request_idx"),
        ]
        constraints = [
            # Also the index the loaders' re-send check looks ids up in (EVENT_RESEND_WINDOW).
            models.UniqueConstraint(fields=["event_id", "timestamp"], name="event_id_time_unique"),
            models.CheckConstraint(
                condition=Q(event_type__in=[choice.value for choice in EventType]),
                name="event_type_known",
            ),
            models.CheckConstraint(
                condition=Q(position__isnull=True) | Q(position__gte=1), name="event_position_from_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.product_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class SearchRequest(models.Model):
    """The impression log: one row per ranked list shown to a user.

    Written by ``/api/rank`` for every request it serves, and by the synthetic generator
    for the lists of the shop's own search. ``randomised`` marks lists shown in random
    order (to measure position bias); ``product_ids`` are the ids in the order shown.

    A search served inside an online experiment (``ranking.experiments``) also records the
    experiment and its arm, and what the experiment's report needs of it: the team of each
    position (interleaving), the challenger's order (shadow), and what the challenger cost
    (its scoring time, or the error that kept it out). Outside experiments these stay empty.
    The experiment is an id, not a foreign key: the catalog knows nothing of the apps above it.
    """

    class Source(models.TextChoices):
        API = "api", "served by /api/rank"
        SYNTHETIC = "synthetic", "synthetic data"
        IMPORT = "import", "imported"

    request_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField(db_index=True)
    query = models.CharField(max_length=512, blank=True, default="")
    query_norm = models.CharField(max_length=512, blank=True, default="")
    user_id = models.CharField(max_length=128, blank=True, default="")
    session_id = models.CharField(max_length=128, blank=True, default="")
    product_ids = models.JSONField(default=list)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    fallback = models.BooleanField(default=False)
    randomised = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    latency_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Server time /api/rank took to the ranked order (parse to order); empty for other sources.",
    )

    # Online experiments. Defaults in the database too, so writers that do not know these
    # columns (the generator's COPY, imports) keep working.
    experiment_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="The experiment that served it."
    )
    arm = models.CharField(
        max_length=16,
        blank=True,
        default="",
        db_default="",
        help_text="control, challenger, interleaved or shadow.",
    )
    teams = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="Interleaving: one letter per position of product_ids: A control, B challenger, = shared.",
    )
    shadow_ids = models.JSONField(
        null=True, blank=True, help_text="Shadow: the challenger's order, same length."
    )
    challenger_seconds = models.FloatField(
        null=True, blank=True, help_text="What scoring and ordering with the challenger added to the request."
    )
    challenger_error = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="Why the challenger did not take part (the control alone answered); empty when it did.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["randomised", "timestamp"], name="searchrequest_random_idx"),
            # Only the searches of experiments: the rest of the log pays nothing for it.
            models.Index(
                fields=["experiment_id", "timestamp"],
                condition=Q(experiment_id__isnull=False),
                name="searchrequest_experiment_idx",
            ),
            # Only the fallback's searches: the admin's "fallback" filter, newest first.
            models.Index(fields=["timestamp"], condition=Q(fallback=True), name="searchrequest_fallback_idx"),
        ]
        # Request ids are fresh UUIDs and a logged row keeps the time it was served at, so a
        # row written twice (a retried batch) is the same (request_id, timestamp): stored once.
        # The key holds the time because the table is partitioned by it on PostgreSQL.
        constraints = [
            models.UniqueConstraint(
                fields=["request_id", "timestamp"], name="searchrequest_request_time_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.query!r}"


class GroundTruth(models.Model):
    """The true graded relevance (0-3) of a shown product in a synthetic list.

    Only the synthetic generator writes it and only evaluation reads it (the trainer
    never does), so any reordering of a logged list can be scored against the truth.
    """

    request_id = models.CharField(max_length=64)
    product_external_id = models.CharField(max_length=128)
    relevance = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request_id", "product_external_id"], name="groundtruth_unique"),
            models.CheckConstraint(condition=Q(relevance__lte=3), name="groundtruth_relevance_0_to_3"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.product_external_id}: {self.relevance}"
