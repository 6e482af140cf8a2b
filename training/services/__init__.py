"""Writes of the training app, one module per stage: datasets (windows, lists, matrices),
fitting (train and register), evaluation (every ranker on the same lists) and the pipeline
(claim, run, decide). Re-exported here: ``from training.services import ...``.

Queueing a run for a worker is ``training.enqueue`` (it imports the tasks, which import these).
"""

from training.errors import PipelineAlreadyRunning, PipelineError
from training.services.datasets import Dataset, Windows, dataset_build, training_data_export, windows_compute
from training.services.evaluation import model_evaluate, ranker_evaluate
from training.services.fitting import TrainedCandidate, letor_train, model_train, ranker_fit
from training.services.pipeline import pipeline_run, pipeline_run_claim

__all__ = [
    "Dataset",
    "PipelineAlreadyRunning",
    "PipelineError",
    "TrainedCandidate",
    "Windows",
    "dataset_build",
    "letor_train",
    "model_evaluate",
    "model_train",
    "pipeline_run",
    "pipeline_run_claim",
    "ranker_evaluate",
    "ranker_fit",
    "training_data_export",
    "windows_compute",
]
