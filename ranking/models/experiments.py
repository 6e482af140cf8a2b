"""Online experiments: what is compared, on how much traffic, and what was decided.

The invariants live in the database: at most one experiment runs at a time (a conditional
unique constraint, like the one production model), each side is exactly one of a model
version or a baseline, the traffic share is in (0, 1], a running or ended experiment has its
times, a stopped one its reason. ``ranking.experiments.services`` are the only writers; the
logic lives in ``ranking.experiments`` (this table sits with the other tables so that the
package of logic can import the registry without an import cycle).

Why one at a time: two experiments on the same traffic would share users, and the
interleaving of one would be the "control" of the other; with one, every search's answer
comes from one comparison and its report means what it says.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ranking.rankers import ONLINE_BASELINES


class ExperimentKind(models.TextChoices):
    SHADOW = "shadow", "shadow"
    INTERLEAVING = "interleaving", "interleaving"
    AB = "ab", "A/B"


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    RUNNING = "running", "running"
    STOPPED = "stopped", "stopped"  # ended early: by a person or a guardrail
    COMPLETED = "completed", "completed"  # ended by its decision


class ExperimentPurpose(models.TextChoices):
    MANUAL = "manual", "by a person"
    PROMOTION = "promotion", "online gate"  # a candidate's, started by the pipeline
    WATCH = "watch", "watch after a promotion"


class ExperimentDecision(models.TextChoices):
    NONE = "", "none"
    PROMOTED = "promoted", "challenger promoted"
    REJECTED = "rejected", "challenger rejected"
    ROLLED_BACK = "rolled_back", "production rolled back"
    KEPT = "kept", "production kept"
    GUARDRAIL = "guardrail", "stopped by a guardrail"
    CONCLUDED = "concluded", "concluded, nothing changed"


def _side(prefix: str) -> Q:
    """Exactly one of ``<prefix>_version`` and a known ``<prefix>_baseline``."""
    version_only = Q(**{f"{prefix}_version__isnull": False, f"{prefix}_baseline": ""})
    baseline_only = Q(**{f"{prefix}_version__isnull": True, f"{prefix}_baseline__in": ONLINE_BASELINES})
    return version_only | baseline_only


class Experiment(models.Model):
    kind = models.CharField(max_length=16, choices=ExperimentKind.choices)
    purpose = models.CharField(
        max_length=16, choices=ExperimentPurpose.choices, default=ExperimentPurpose.MANUAL
    )
    status = models.CharField(max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.DRAFT)

    # The two sides: a model version or a baseline each. model_version of an answer is the control's.
    control_version = models.ForeignKey(
        "ranking.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    control_baseline = models.CharField(max_length=16, blank=True, default="")
    challenger_version = models.ForeignKey(
        "ranking.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="experiments_as_challenger",
    )
    challenger_baseline = models.CharField(max_length=16, blank=True, default="")
    control_was_production = models.BooleanField(
        default=False, help_text="The control was the production version when the experiment started."
    )

    # Traffic: the challenger's share (A/B) or the share of searches in the experiment.
    traffic = models.FloatField(help_text="In (0, 1].")
    stages = models.JSONField(default=list, blank=True, help_text="A/B canary: the shares, in order.")
    stage = models.PositiveSmallIntegerField(default=0, help_text="Index into stages.")
    stage_started_at = models.DateTimeField(null=True, blank=True)
    guardrails = models.JSONField(default=dict, blank=True, help_text="Budgets and alpha, fixed at creation.")
    min_searches = models.PositiveIntegerField(default=0, help_text="No decision before this many searches.")
    max_searches = models.PositiveIntegerField(null=True, blank=True)
    max_days = models.FloatField(null=True, blank=True)
    watched_transition = models.OneToOneField(
        "ranking.ModelVersionTransition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="watch",
        help_text="For a watch: the promotion it watches.",
    )

    # Life.
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, help_text='"cli:<user>", "admin:<user>", "pipeline", ...')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.CharField(max_length=150, blank=True, default="")
    stop_reason = models.TextField(blank=True, default="")

    # The decision, with the numbers it rests on.
    decision = models.CharField(max_length=16, choices=ExperimentDecision.choices, blank=True, default="")
    decision_reason = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True, help_text="The report when it was decided.")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status=ExperimentStatus.RUNNING),
                name="experiment_one_running",
                violation_error_message="Only one experiment can run at a time.",
            ),
            models.CheckConstraint(
                condition=Q(traffic__gt=0) & Q(traffic__lte=1), name="experiment_traffic_share"
            ),
            models.CheckConstraint(condition=_side("control"), name="experiment_control_one_ranker"),
            models.CheckConstraint(condition=_side("challenger"), name="experiment_challenger_one_ranker"),
            models.CheckConstraint(condition=Q(kind__in=ExperimentKind.values), name="experiment_kind_known"),
            models.CheckConstraint(
                condition=Q(status__in=ExperimentStatus.values), name="experiment_status_known"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=ExperimentPurpose.values), name="experiment_purpose_known"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=ExperimentDecision.values), name="experiment_decision_known"
            ),
            models.CheckConstraint(
                condition=Q(status=ExperimentStatus.DRAFT) | Q(started_at__isnull=False),
                name="experiment_started_has_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ExperimentStatus.STOPPED, ExperimentStatus.COMPLETED])
                | Q(stopped_at__isnull=False),
                name="experiment_ended_has_stop",
            ),
            models.CheckConstraint(
                condition=~Q(status=ExperimentStatus.STOPPED) | ~Q(stop_reason=""),
                name="experiment_stopped_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(max_searches__isnull=True) | Q(max_searches__gte=models.F("min_searches")),
                name="experiment_max_searches_above_min",
            ),
            models.CheckConstraint(
                condition=Q(max_days__isnull=True) | Q(max_days__gt=0), name="experiment_max_days_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"experiment {self.pk}: {self.kind} of {self.challenger_label} against {self.control_label} ({self.status})"

    @property
    def control_label(self) -> str:
        return _label(self.control_version_id and self.control_version, self.control_baseline)

    @property
    def challenger_label(self) -> str:
        return _label(self.challenger_version_id and self.challenger_version, self.challenger_baseline)


def _label(model_version, baseline: str) -> str:
    return f"v{model_version.version}" if model_version else baseline
