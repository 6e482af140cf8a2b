"""The ranking app's tables, one module per concern. Every module is imported here so that
Django (and ``from ranking.models import ...``) sees all of them."""

from ranking.models.access import ApiClient
from ranking.models.features import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)
from ranking.models.registry import ModelStatus, ModelVersion, ModelVersionTransition, TransitionKind

__all__ = [
    "ApiClient",
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
