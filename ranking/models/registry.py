"""The model registry: every trained ranker, its provenance and evaluation, and the audit
trail of every status change.

Invariants live in the database: at most one ``production`` row (a conditional unique
constraint), unique positive version numbers, known statuses and kinds, and a reason on
every transition. The services in ``ranking.services`` are the only writers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "candidate"
    PRODUCTION = "production", "production"
    ARCHIVED = "archived", "archived"
    REJECTED = "rejected", "rejected"


class TransitionKind(models.TextChoices):
    REGISTER = "register", "register"
    PROMOTE = "promote", "promote"
    ROLLBACK = "rollback", "rollback"
    REJECT = "reject", "reject"
    ARCHIVE = "archive", "archive"


class ModelVersion(models.Model):
    """One trained LightGBM ranker, stored as LightGBM's own model text (never a pickle, so
    loading it cannot run code) with everything needed to reproduce and judge it."""

    version = models.PositiveIntegerField(unique=True, help_text="1, 2, 3, ... in order of registration.")
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    created_at = models.DateTimeField(auto_now_add=True)

    # Provenance: what it was trained on and with.
    feature_contract = models.JSONField(
        default=dict, help_text="Feature names in matrix order, their defaults and the contract version."
    )
    hyperparameters = models.JSONField(default=dict)
    windows = models.JSONField(default=dict, help_text="Feature, training and evaluation time windows.")
    counts = models.JSONField(default=dict, help_text="Lists and rows used for training and evaluation.")
    data_digest = models.CharField(max_length=64, help_text="sha256 (hex) of the training data.")
    lightgbm_version = models.CharField(max_length=32, blank=True, default="")
    code_version = models.CharField(
        max_length=64, blank=True, default="", help_text="git commit, else the package version."
    )
    training_seconds = models.FloatField(default=0.0)

    # The model itself.
    model_text = models.TextField(help_text="LightGBM model text (Booster.model_to_string()).")
    model_sha256 = models.CharField(max_length=64, help_text="sha256 (hex) of model_text as UTF-8.")
    num_trees = models.PositiveIntegerField()

    # Judgement.
    report = models.JSONField(default=dict, blank=True, help_text="The full evaluation report.")
    feature_importance = models.JSONField(default=dict, blank=True)
    decision = models.JSONField(
        default=dict, blank=True, help_text='The pipeline\'s decision: {"action", "reason"}, or empty.'
    )
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-version"]
        indexes = [models.Index(fields=["status"], name="modelversion_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status=ModelStatus.PRODUCTION),
                name="modelversion_one_production",
                violation_error_message="Only one model version can be in production.",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="modelversion_version_from_1"),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in ModelStatus]),
                name="modelversion_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"


class ModelVersionTransition(models.Model):
    """One status change of a model version: who, why, and (for a promotion) which
    production version it replaced. Rows are only ever added."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="transitions")
    kind = models.CharField(max_length=16, choices=TransitionKind.choices)
    from_status = models.CharField(
        max_length=16, choices=ModelStatus.choices, blank=True, default="", help_text="Empty on register."
    )
    to_status = models.CharField(max_length=16, choices=ModelStatus.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, help_text='"pipeline", "cli:<user>", "admin:<username>", ...')
    reason = models.TextField()
    replaced = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a promotion: the production version it replaced.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "created_at"], name="mvtransition_kind_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="mvtransition_reason_required"),
            models.CheckConstraint(
                condition=Q(kind__in=[choice.value for choice in TransitionKind]),
                name="mvtransition_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.model_version.version}: {self.from_status or '-'} → {self.to_status} ({self.kind})"
