"""The report's sections as the version page reads them (ranking.reports): every ranker in the
declared order, the ones that did not apply marked, segments, variants, gates, importance."""

from __future__ import annotations

from ranking.rankers import RANKER_NAMES
from ranking.reports import (
    report_feature_importance,
    report_gates,
    report_ranker_rows,
    report_segment_rows,
    report_variant_rows,
)

REPORT = {
    "metrics": {
        "model": {"ndcg@10": 0.46, "mrr": 0.40, "ctr@10": 0.82},
        "production": None,
        "bm25": {"ndcg@10": 0.47},
    },
    "debiased": {"model": {"ndcg@10": 0.40}, "bm25": {"ndcg@10": 0.37}},
    "truth": {"model": {"ndcg@10": 0.86}, "bm25": {"ndcg@10": 0.75}},
    "intervals": {"model-bm25": {"debiased_ndcg@10": [-0.002, 0.073], "truth_ndcg@10": [0.10, 0.12]}},
    "segments": {
        "head": {
            "lists": 372,
            "lists_with_click": 240,
            "metrics": {"model": {"debiased_ndcg@10": 0.41, "truth_ndcg@10": 0.86}},
        },
    },
    "variants": {
        "position_bias": {"metrics": {"ndcg@10": 0.46}, "debiased": {"ndcg@10": 0.40}, "truth": None},
        "no_position_bias": {"metrics": {"ndcg@10": 0.47}, "debiased": {"ndcg@10": 0.39}, "truth": None},
        "chosen": "position_bias",
    },
    "decision": {"action": "promoted", "reason": "r", "gates": {"enough_eval_lists": True, "no_nan": False}},
}


def test_every_ranker_is_listed_in_order_with_the_models_intervals_against_it():
    rows = {row.name: row for row in report_ranker_rows(REPORT)}

    assert [row.name for row in report_ranker_rows(REPORT)] == list(RANKER_NAMES)
    assert rows["bm25"].applies
    assert rows["bm25"].interval_debiased == (-0.002, 0.073)
    assert rows["bm25"].interval_truth == (0.10, 0.12)
    assert not rows["production"].applies
    assert rows["model"].debiased == 0.40
    assert rows["model"].truth == 0.86


def test_segments_list_all_three_and_read_nothing_where_the_report_has_nothing():
    rows = report_segment_rows(REPORT)

    assert [row.segment for row in rows] == ["head", "torso", "tail"]
    assert (rows[0].lists, rows[0].lists_with_click, rows[0].debiased["model"]) == (372, 240, 0.41)
    assert rows[1].lists is None
    assert rows[1].truth["bm25"] is None
    assert report_segment_rows({}) == []


def test_the_chosen_variant_is_marked_and_the_gates_keep_their_order():
    variants = report_variant_rows(REPORT)

    assert [(row.name, row.chosen) for row in variants] == [
        ("position_bias", True),
        ("no_position_bias", False),
    ]
    assert variants[1].ndcg == 0.47
    assert variants[1].truth is None
    assert report_gates(REPORT) == [("enough_eval_lists", True), ("no_nan", False)]


def test_feature_importance_is_sorted_by_size_then_name_without_non_numbers():
    importance = {"b": 2.0, "a": 2.0, "c": 9.5, "d": None, "e": "x"}

    assert report_feature_importance(importance) == [("c", 9.5), ("a", 2.0), ("b", 2.0)]
