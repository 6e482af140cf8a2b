"""Writes of the training app, one module per stage: datasets (windows, lists, matrices),
fitting (train and register), evaluation (every ranker on the same lists), the pipeline
(run, decide), its runs (request, claim, heartbeat, close) and the schedule's slots.
Re-exported here: ``from training.services import ...``.

Queueing a run for a worker is ``training.tasks.pipeline_run_enqueue`` (beside the task it
sends; the tasks import these services, never the other way round).
"""

from training.errors import PipelineAlreadyRunning, PipelineError, PipelineRunLost
from training.services.datasets import Dataset, Windows, dataset_build, training_data_export, windows_compute
from training.services.evaluation import model_evaluate, ranker_evaluate
from training.services.fitting import TrainedCandidate, letor_train, model_train, ranker_fit
from training.services.pipeline import pipeline_run, pipeline_run_execute
from training.services.runs import (
    RunHeartbeat,
    pipeline_run_alive_check,
    pipeline_run_claim,
    pipeline_run_request,
    pipeline_run_unsent_close,
    pipeline_runs_lost_close,
)
from training.services.schedule import schedule_due_get, schedule_slot_missed_get

__all__ = [
    "Dataset",
    "PipelineAlreadyRunning",
    "PipelineError",
    "PipelineRunLost",
    "RunHeartbeat",
    "TrainedCandidate",
    "Windows",
    "dataset_build",
    "letor_train",
    "model_evaluate",
    "model_train",
    "pipeline_run",
    "pipeline_run_alive_check",
    "pipeline_run_claim",
    "pipeline_run_execute",
    "pipeline_run_request",
    "pipeline_run_unsent_close",
    "pipeline_runs_lost_close",
    "ranker_evaluate",
    "ranker_fit",
    "schedule_due_get",
    "schedule_slot_missed_get",
    "training_data_export",
    "windows_compute",
]
