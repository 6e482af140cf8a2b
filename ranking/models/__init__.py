"""The ranking app's tables, one module per concern (the feature store's beside the feature code,
in ``ranking.features.models``). Every module is imported here so that
Django (and ``from ranking.models import ...``) sees all of them."""

from ranking.features.models import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)
from ranking.models.access import ApiClient
from ranking.models.drift import DriftProfile, DriftReport, DriftSample
from ranking.models.experiments import (
    Experiment,
    ExperimentDecision,
    ExperimentKind,
    ExperimentPurpose,
    ExperimentStatus,
)
from ranking.models.registry import ModelStatus, ModelVersion, ModelVersionTransition, TransitionKind

__all__ = [
    "ApiClient",
    "DriftProfile",
    "DriftReport",
    "DriftSample",
    "Experiment",
    "ExperimentDecision",
    "ExperimentKind",
    "ExperimentPurpose",
    "ExperimentStatus",
    "FeatureSet",
    "ModelStatus",
    "ModelVersion",
    "ModelVersionTransition",
    "ProductFeatures",
    "QueryFrequency",
    "QueryProductFeatures",
    "TransitionKind",
    "UserAffinity",
    "UserFeatures",
]
