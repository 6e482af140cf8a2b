"""Web workers starting together compile the same model into the same on-disk cache
(ranking.serving.state.compiled_predictor): every one of them must end up with the compiled
model. Each worker here is a forked process whose loader thread starts at the same moment,
as gunicorn's workers do on a cold start; three different models, so three cold starts."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from ranking.features import contract
from ranking.model_loading import sha256_text
from tests.factories import contract_model_text

WORKERS = 4


def worker(text: str, start, results) -> None:
    """A worker process: its loader thread compiles the model when every worker is ready."""
    from ranking.serving.state import compiled_predictor

    outcome: dict = {}

    def load() -> None:
        start.wait(60)
        try:
            predict = compiled_predictor(sha256_text(text), text)
            features = np.random.default_rng(0).random((5, len(contract.NAMES)))
            outcome["scores"] = predict(features).tolist()
        except Exception as error:
            outcome["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=load, name="searchop-model-loader")
    thread.start()
    thread.join(120)
    results.put(outcome)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_workers_compiling_one_model_at_once_all_get_the_compiled_model(seed, tmp_path, settings):
    settings.SEARCHOP_VAR_DIR = tmp_path  # a cold cache (forked workers inherit the setting)
    text = contract_model_text(seed)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=worker, args=(text, start, results)) for _ in range(WORKERS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(30)

    assert [o.get("error") for o in outcomes] == [None] * WORKERS
    assert all(o["scores"] == outcomes[0]["scores"] for o in outcomes)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted(
        f"{sha256_text(text)}{suffix}" for suffix in (".lock", ".so", ".txt")
    )
