"""What an experiment compares and who gets which arm (``ranking.experiments.arms``)."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.experiments.arms import (
    BASELINES,
    RankerRef,
    baseline_scores,
    in_share,
    ranker_parse,
    unit_bucket,
    unit_key,
)
from ranking.features.contract import INDEX, NAMES
from ranking.rankers import ONLINE_BASELINES


def test_a_ranker_is_a_model_version_or_a_baseline_by_name():
    assert ranker_parse("v7") == RankerRef(version=7)
    assert ranker_parse("12") == RankerRef(version=12)
    assert ranker_parse(" BM25 ") == RankerRef(baseline="bm25")
    assert ranker_parse("v7").label == "v7"
    assert ranker_parse("input").label == "input"
    assert tuple(BASELINES) == ONLINE_BASELINES


@pytest.mark.parametrize("text", ["v0", "vx", "", "logging", "production"])
def test_anything_else_is_refused_naming_what_is_accepted(text):
    with pytest.raises(ValueError, match="bm25, popularity, random, input"):
        ranker_parse(text)


def test_the_unit_is_the_user_else_the_session_else_the_request():
    assert unit_key(user_id="U1", session_id="s1", request_id="r1") == "u:U1"
    assert unit_key(user_id="", session_id="s1", request_id="r1") == "s:s1"
    assert unit_key(user_id="", session_id="", request_id="r1") == "r:r1"


def test_a_unit_keeps_its_bucket_and_a_share_takes_about_that_share_of_units():
    units = [f"u:{i}" for i in range(20_000)]
    buckets = np.array([unit_bucket(experiment_id=3, unit=u) for u in units])

    assert buckets.tolist() == [unit_bucket(experiment_id=3, unit=u) for u in units]
    assert np.all((buckets >= 0) & (buckets < 1))
    assert np.mean(buckets < 0.1) == pytest.approx(0.1, abs=0.01)


def test_raising_the_share_only_adds_units_and_another_experiment_reshuffles_them():
    units = [f"u:{i}" for i in range(5_000)]
    at_5 = {u for u in units if in_share(experiment_id=3, unit=u, share=0.05)}
    at_25 = {u for u in units if in_share(experiment_id=3, unit=u, share=0.25)}
    elsewhere = {u for u in units if in_share(experiment_id=4, unit=u, share=0.25)}

    assert at_5 <= at_25
    # Independent shuffles: a quarter of one experiment's quarter is in the other's.
    assert len(at_25 & elsewhere) / len(at_25) == pytest.approx(0.25, abs=0.05)


def test_baselines_score_by_their_feature_the_input_order_or_a_seeded_shuffle():
    features = np.random.default_rng(0).random((5, len(NAMES)))

    assert np.array_equal(baseline_scores("bm25", features, seed=0), features[:, INDEX["t_bm25_all"]])
    assert np.array_equal(baseline_scores("popularity", features, seed=0), features[:, INDEX["p_popularity"]])
    assert np.argsort(-baseline_scores("input", features, seed=0), kind="stable").tolist() == [0, 1, 2, 3, 4]
    assert np.array_equal(
        baseline_scores("random", features, seed=9), baseline_scores("random", features, seed=9)
    )
    with pytest.raises(ValueError, match="not a baseline"):
        baseline_scores("model", features, seed=0)
