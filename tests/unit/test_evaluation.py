"""The evaluation report (``training.evaluation``): its shape, the logging ranker's logged
order, random tie-breaking, the oracle, the model's intervals against every other ranker,
and head / torso / tail segments."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.rankers import RANKER_NAMES as RANKERS
from training import metrics
from training.evaluation import EvaluationData, evaluation_report, query_segments
from training.propensity import PropensityModel

N_LISTS, SIZE = 60, 10
PROPENSITY = PropensityModel(eta=1.0)


@pytest.fixture
def data() -> EvaluationData:
    """60 lists of 10, shown in logged order; every other list has one click, always at
    position 1. True relevance is random, the first 20 lists are head, then torso, tail."""
    rng = np.random.default_rng(5)
    list_index = np.repeat(np.arange(N_LISTS), SIZE)
    positions = np.tile(np.arange(1, SIZE + 1), N_LISTS)
    labels = np.where((positions == 1) & (list_index % 2 == 0), 1, 0)
    return EvaluationData(
        list_index=list_index,
        labels=labels,
        positions=positions,
        truth=rng.integers(0, 4, list_index.size).astype(np.float64),
        segments=np.repeat(np.array(["head", "torso", "tail"]), N_LISTS // 3),
    )


def scores_for(data: EvaluationData, **overrides) -> dict:
    rng = np.random.default_rng(11)
    scores = {
        "model": rng.random(data.list_index.size),
        "production": None,
        "bm25": rng.random(data.list_index.size),
        "popularity": rng.random(data.list_index.size),
        "logging": -data.positions.astype(np.float64),
        "random": metrics.random_scores(data.list_index, seed=3),
        "oracle": data.truth,
    }
    return {**scores, **overrides}


def report_for(data: EvaluationData, **overrides) -> dict:
    return evaluation_report(
        data=data, scores=scores_for(data, **overrides), propensity=PROPENSITY, n_resamples=200
    )


def test_the_report_has_every_section_and_every_ranker_with_its_metrics(data):
    report = report_for(data)
    assert set(report) == {"metrics", "debiased", "truth", "intervals", "segments"}
    for section in ("metrics", "debiased", "truth"):
        assert set(report[section]) == set(RANKERS), section
        assert report[section]["production"] is None
    for name in RANKERS:
        if name == "production":
            continue
        assert set(report["metrics"][name]) == {"ndcg@10", "mrr", "ctr@10"}
        assert all(isinstance(v, float) for v in report["metrics"][name].values()), name
        assert isinstance(report["debiased"][name]["ndcg@10"], float)
        assert isinstance(report["truth"][name]["ndcg@10"], float)
    assert set(report["segments"]) == {"head", "torso", "tail"}


def test_the_logging_ranker_is_the_logged_order_whatever_scores_it_is_given(data):
    # Scores that would put the logged order upside down are ignored: logging means as shown.
    report = report_for(data, logging=data.positions.astype(np.float64))
    assert report["metrics"]["logging"]["ndcg@10"] == 1.0
    assert report["metrics"]["logging"]["mrr"] == 1.0


def test_ties_are_broken_at_random_so_a_constant_ranker_does_not_inherit_the_logged_order(data):
    # A stable sort would keep the rows in logged order and score this ranker like logging (1.0).
    report = report_for(data, popularity=np.zeros(data.list_index.size))
    assert report["metrics"]["logging"]["ndcg@10"] == 1.0
    assert report["metrics"]["popularity"]["ndcg@10"] < 0.8
    assert report["metrics"]["popularity"]["mrr"] < 0.6


def test_click_metrics_average_over_the_lists_with_a_click_only(data):
    report = report_for(data)
    ranks = metrics.ranks_from_scores(data.list_index, -data.positions.astype(np.float64))
    per_list = metrics.ndcg_at_k(data.list_index, ranks, data.labels)
    assert np.isnan(per_list[1::2]).all()  # the unclicked lists drop out ...
    assert report["metrics"]["logging"]["ndcg@10"] == np.nanmean(per_list)  # ... of the mean
    assert report["segments"]["head"]["lists_with_click"] == 10


def test_the_oracle_scores_a_truth_ndcg_of_exactly_one(data):
    report = report_for(data)
    assert report["truth"]["oracle"]["ndcg@10"] == 1.0
    for name in ("model", "bm25", "popularity", "logging", "random"):
        assert report["truth"][name]["ndcg@10"] < 1.0, name


def test_there_is_an_interval_of_the_model_against_every_other_ranker_that_applies(data):
    report = report_for(data)
    others = {name for name in RANKERS if name not in ("model", "production")}
    assert set(report["intervals"]) == {f"model-{name}" for name in others}
    for key, intervals in report["intervals"].items():
        assert set(intervals) == {"ndcg@10", "mrr", "ctr@10", "debiased_ndcg@10", "truth_ndcg@10"}, key
        for metric, (low, high) in intervals.items():
            assert low <= high, (key, metric)
    # The model's random scores are worse than the oracle at finding the true relevance.
    assert report["intervals"]["model-oracle"]["truth_ndcg@10"][1] < 0


def test_an_evaluated_production_model_gets_its_metrics_and_an_interval(data):
    report = report_for(data, production=np.random.default_rng(2).random(data.list_index.size))
    assert report["metrics"]["production"]["ndcg@10"] is not None
    assert "model-production" in report["intervals"]


def test_without_truth_the_truth_section_is_null_and_no_truth_interval_is_made(data):
    data.truth = None
    report = report_for(data, oracle=None)
    assert report["truth"]["model"] is None
    assert report["metrics"]["oracle"] is None
    assert "truth_ndcg@10" not in report["intervals"]["model-bm25"]


def test_segments_break_the_metrics_down_by_the_lists_of_each_segment(data):
    report = report_for(data)
    for segment in ("head", "torso", "tail"):
        entry = report["segments"][segment]
        assert entry["lists"] == 20
        assert entry["lists_with_click"] == 10
        assert set(entry["metrics"]) == set(RANKERS)
        assert entry["metrics"]["production"] is None
        assert entry["metrics"]["logging"]["ndcg@10"] == 1.0
        assert entry["metrics"]["oracle"]["truth_ndcg@10"] == 1.0


def test_query_segments_put_the_most_frequent_queries_making_half_the_lists_in_the_head():
    segments = query_segments({"shoes": 50, "boots": 30, "socks": 10, "red socks": 6, "blue socks": 4})
    assert segments == {
        "shoes": "head",  # 0% of the lists come before it
        "boots": "torso",  # 50% before it: the head is full
        "socks": "tail",  # 80% before it: the torso too
        "red socks": "tail",
        "blue socks": "tail",
    }
    assert query_segments({}) == {}


def test_query_segments_of_a_flat_distribution_spread_over_all_three_segments():
    segments = query_segments({f"q{i}": 1 for i in range(10)})
    assert list(segments.values()).count("head") == 5
    assert list(segments.values()).count("torso") == 3
    assert list(segments.values()).count("tail") == 2
