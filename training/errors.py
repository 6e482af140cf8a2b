"""Errors of the training pipeline: messages written for the person who reads them."""

from __future__ import annotations


class PipelineError(Exception):
    """The pipeline cannot run as asked; the message says why."""


class PipelineAlreadyRunning(PipelineError):
    pass


class PipelineRunLost(PipelineError):
    """The run was closed (taken for dead) while this process ran it: its result must not count."""
