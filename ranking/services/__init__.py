"""Writes of the ranking app, one module per concern: the model registry, the feature store and
the retention of the events and the impression log.

Everything is re-exported here, so callers import ``from ranking.services import ...``.
"""

from ranking.services.features import (
    FeatureBuild,
    FeaturesUnavailable,
    feature_history_start,
    features_build,
    serving_features_build,
)
from ranking.services.registry import (
    REGISTRY_LOCK_KEY,
    model_version_archive,
    model_version_decision_note,
    model_version_promote,
    model_version_register,
    model_version_reject,
    model_version_report_attach,
    model_version_rollback,
    model_version_verify,
)
from ranking.services.retention import RetentionUnavailable, data_prune, partitions_upkeep

__all__ = [
    "REGISTRY_LOCK_KEY",
    "FeatureBuild",
    "FeaturesUnavailable",
    "RetentionUnavailable",
    "data_prune",
    "feature_history_start",
    "features_build",
    "model_version_archive",
    "model_version_decision_note",
    "model_version_promote",
    "model_version_register",
    "model_version_reject",
    "model_version_report_attach",
    "model_version_rollback",
    "model_version_verify",
    "partitions_upkeep",
    "serving_features_build",
]
