"""The ranking app in the admin: the control room (model versions, metric history, promote and
roll back), the audit trail and the API clients. Importing the modules registers them."""

from ranking.admin import audit, model_versions

__all__ = ["audit", "model_versions"]
