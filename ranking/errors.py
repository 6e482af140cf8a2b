"""Errors of the model registry. Their messages are written for the person who reads them in
the admin or on the command line: what went wrong and, where there is one, what to do."""

from __future__ import annotations


class RegistryError(Exception):
    """A registry operation was refused; nothing was changed."""


class ModelVersionNotFound(RegistryError):
    def __init__(self, version: int):
        super().__init__(f"There is no model version v{version}.")
        self.version = version


class ModelVerificationError(RegistryError):
    """The stored model failed its integrity check or could not be loaded."""

    def __init__(self, version: int, reason: str):
        super().__init__(f"v{version} failed verification: {reason}")
        self.version = version
        self.reason = reason


class NothingToRollBack(RegistryError):
    """There is no production version, or no earlier one to return to."""


class ExperimentError(Exception):
    """An experiment operation was refused; nothing was changed. The message names the field
    or the state that stood in the way."""


class ExperimentNotFound(ExperimentError):
    def __init__(self, experiment_id: int):
        super().__init__(f"There is no experiment {experiment_id}.")
        self.experiment_id = experiment_id
