"""The ranking app in the admin: the control room (model versions, metric history, promote and
roll back), online experiments, the audit trail and the API clients. Importing the modules
registers them."""

from ranking.admin import audit, experiments, model_versions

__all__ = ["audit", "experiments", "model_versions"]
