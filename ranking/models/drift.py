"""Drift monitoring's tables: the reference profile saved with a model version at training
time, the feature rows sampled from served requests, and the reports computed from them
(``ranking.drift``). Samples are bounded by the sampler (a share of requests, at most a few
per minute per worker) and pruned by the periodic task after ``SEARCHOP_DRIFT["keep_days"]``.
"""

from __future__ import annotations

from django.db import models


class DriftProfile(models.Model):
    """What the model was trained on, as drift monitoring compares it: per feature the bins'
    edges and shares, the score distribution, the training queries and the CTR."""

    model_version = models.OneToOneField(
        "ranking.ModelVersion", on_delete=models.CASCADE, related_name="drift_profile"
    )
    profile = models.JSONField(help_text="ranking.drift.profile.profile_make's output.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"drift profile of v{self.model_version.version}"


class DriftSample(models.Model):
    """The feature rows of one sampled rank request (at most ``rows_per_request`` of its
    candidates), as float64 bytes in contract order (float32 would move values on a bin edge)."""

    created_at = models.DateTimeField(db_index=True)
    model_version = models.PositiveIntegerField(null=True, blank=True, help_text="Null: the fallback served.")
    query_norm = models.TextField()
    num_features = models.PositiveSmallIntegerField()
    num_rows = models.PositiveIntegerField()
    features = models.BinaryField(help_text="num_rows x num_features float64, row-major.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.num_rows} rows of {self.query_norm!r} @ {self.created_at:%Y-%m-%d %H:%M}"


class DriftReport(models.Model):
    """One computed comparison of the served features with the production model's profile."""

    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    model_version = models.ForeignKey(
        "ranking.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flagged = models.BooleanField(default=False)
    result = models.JSONField(default=dict, help_text="ranking.drift.compute.drift_compute's output.")

    class Meta:
        ordering = ["-computed_at", "-id"]

    def __str__(self) -> str:
        return f"drift {'flagged' if self.flagged else 'ok'} @ {self.computed_at:%Y-%m-%d %H:%M}"
