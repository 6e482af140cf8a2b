"""The running experiment's rankers as a worker builds them (``ranking.serving.experiment``):
what needs no loading, the baselines' scores, a side that scores wrongly, and when a failed
side is tried again. (Loading model versions: tests/integration/api/test_rank_experiments.py.)"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ranking.experiments.arms import RankerRef
from ranking.experiments.routing import LiveExperiment
from ranking.features.contract import INDEX, NAMES
from ranking.serving.experiment import (
    ExperimentRankers,
    ServingExperiment,
    SideRanker,
    baseline_side,
    side_scores,
)


def live(control: RankerRef, challenger: RankerRef, traffic: float = 0.5) -> LiveExperiment:
    return LiveExperiment(id=3, kind="interleaving", traffic=traffic, control=control, challenger=challenger)


def never_compiles(sha256: str, text: str):
    raise AssertionError("nothing to compile here")


def features(rows: int = 5) -> np.ndarray:
    return np.random.default_rng(0).random((rows, len(NAMES)))


def test_baselines_and_the_served_production_version_are_built_at_once():
    rankers = ExperimentRankers(never_compiles)
    experiment = live(RankerRef(version=3), RankerRef(baseline="bm25"))

    assert rankers.instant(experiment, state_version=3)
    built = rankers.build(experiment, state_version=3)
    assert built.control.score is None  # production's own scores, already computed
    assert built.challenger.label == "bm25"
    assert built.retry_at is None
    # Once production is another version, v3 must be loaded: not at once.
    assert not rankers.instant(experiment, state_version=4)


def test_a_baseline_scores_its_feature_and_random_is_seeded_by_the_request():
    matrix = features()

    np.testing.assert_array_equal(
        baseline_side("popularity").score(matrix, "r1"), matrix[:, INDEX["p_popularity"]]
    )
    random_side = baseline_side("random")
    np.testing.assert_array_equal(random_side.score(matrix, "r1"), random_side.score(matrix, "r1"))
    assert not np.array_equal(random_side.score(matrix, "r1"), random_side.score(matrix, "r2"))


def test_a_side_that_scores_the_wrong_number_of_rows_is_an_error_of_the_search():
    wrong = SideRanker("v9", 9, lambda matrix, request_id: np.zeros(2))

    scores, error = side_scores(wrong, features=features(5), raw=np.zeros(5), request_id="r1")

    assert scores is None
    assert error == "v9 raised ValueError: 5 rows gave scores of shape (2,)"


def test_a_side_that_did_not_load_gives_its_reason_and_the_state_side_gives_the_raw_scores():
    failed = SideRanker("v9", 9, None, failed="v9 failed verification: corrupt")
    raw = np.arange(5.0)

    assert side_scores(failed, features=features(), raw=raw, request_id="r1") == (None, failed.failed)
    production = SideRanker("v3", 3, None)
    assert side_scores(production, features=features(), raw=raw, request_id="r1")[0] is raw


@pytest.mark.parametrize(
    ("retry_at", "now", "current"), [(None, 1e9, True), (100.0, 99.0, True), (100.0, 100.0, False)]
)
def test_a_built_experiment_serves_until_it_changes_or_a_failed_side_is_due_again(retry_at, now, current):
    running = live(RankerRef(version=3), RankerRef(baseline="input"))
    side = baseline_side("input")
    built = ServingExperiment(running, 3, side, side, retry_at=retry_at)

    assert built.current(running, state_version=3, now=now) is current
    assert not built.current(replace(running, traffic=0.6), state_version=3, now=0.0)  # a canary stage
    assert not built.current(running, state_version=4, now=0.0)
