"""The ranking app's tables, one module per concern. Every module is imported here so that
Django (and ``from ranking.models import ...``) sees all of them."""

from ranking.models.registry import ModelStatus, ModelVersion, ModelVersionTransition, TransitionKind

# Feature tables: ``from ranking.models.features import ...`` goes here (ranking/models/features.py).

__all__ = [
    "ModelStatus",
    "ModelVersion",
    "ModelVersionTransition",
    "TransitionKind",
]
