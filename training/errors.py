"""Errors of the training pipeline: messages written for the person who reads them."""

from __future__ import annotations


class PipelineError(Exception):
    """The pipeline cannot run as asked; the message says why."""


class PipelineAlreadyRunning(PipelineError):
    pass
