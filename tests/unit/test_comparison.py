"""Side-by-side helpers (``ranking.comparison``), on cases computed by hand."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ranking.comparison import (
    Contribution,
    ImportancePair,
    contributions_explain,
    difference_of,
    importance_difference_svg,
    importance_pair,
    interval_side,
    rank_change,
    ranks_from_order,
    setting_text,
    settings_pair,
    window_text,
)


def test_settings_pair_flattens_nested_settings_and_marks_the_ones_that_differ():
    a = {"num_leaves": 31, "eval": {"days": 14, "start": "2026-09-01"}}
    b = {"num_leaves": 63, "eval": {"days": 14}, "seed": 1}

    pairs = {pair.name: pair for pair in settings_pair(a, b)}

    assert list(pairs) == ["eval.days", "eval.start", "num_leaves", "seed"]
    assert not pairs["eval.days"].differs
    assert pairs["eval.start"].differs
    assert (pairs["eval.start"].a, pairs["eval.start"].b) == ("2026-09-01", None)
    assert pairs["num_leaves"].differs
    assert (pairs["seed"].a, pairs["seed"].b) == (None, 1)


def test_importance_pair_compares_shares_of_the_total_gain_largest_change_first():
    # a: bm25 30 of 40 (75%), price 10 (25%); b: bm25 50 of 100 (50%), price 25, ctr 25.
    pairs = importance_pair({"bm25": 30.0, "price": 10.0}, {"bm25": 50.0, "price": 25.0, "ctr": 25.0})

    assert [p.feature for p in pairs] == ["bm25", "ctr", "price"]
    assert pairs[0].a == pytest.approx(0.75)
    assert pairs[0].b == pytest.approx(0.5)
    assert pairs[0].difference == pytest.approx(-0.25)
    assert pairs[1].difference == pytest.approx(0.25)
    assert pairs[2].difference == pytest.approx(0.0)


def test_importance_pair_of_a_version_without_gain_gives_zero_shares():
    pairs = importance_pair({"bm25": 0.0}, {})

    assert pairs == [ImportancePair("bm25", 0.0, 0.0)]


def test_the_importance_chart_is_well_formed_svg_with_one_bar_per_feature_and_escaped_names():
    pairs = [ImportancePair("<bm25>", 0.75, 0.5), ImportancePair("ctr", 0.0, 0.25)]

    svg = importance_difference_svg(pairs, label_a="v1", label_b="v2")

    root = ET.fromstring(svg)
    bars = root.findall(".//{http://www.w3.org/2000/svg}rect")
    assert len(bars) == 2
    assert float(bars[0].get("width")) == pytest.approx(float(bars[1].get("width")))  # both 25 pp
    assert float(bars[0].get("x")) < float(bars[1].get("x"))  # the loss to the left of the gain
    assert "&lt;bm25&gt;" in svg
    assert "-25.0 pp" in svg
    assert "+25.0 pp" in svg


def test_ranks_from_order_gives_each_row_its_one_based_rank():
    assert ranks_from_order([2, 0, 1]).tolist() == [2, 3, 1]
    assert ranks_from_order([]).tolist() == []


def test_rank_change_counts_the_places_gained():
    assert rank_change(5, 2) == 3
    assert rank_change(1, 4) == -3
    assert rank_change(3, 3) == 0


def test_contributions_explain_splits_the_features_that_pushed_up_and_down_without_the_bias():
    names = ["bm25", "ctr", "price", "rating"]
    values = [2.0, 0.1, 50.0, 4.5]
    contributions = [0.4, -0.05, -0.3, 0.1, 9.9]  # the last is the bias

    up, down = contributions_explain(names, values, contributions, k=1)

    assert up == [Contribution("bm25", 2.0, 0.4)]
    assert down == [Contribution("price", 50.0, -0.3)]
    everything_up, everything_down = contributions_explain(names, values, contributions)
    assert [c.feature for c in everything_up] == ["bm25", "rating"]
    assert [c.feature for c in everything_down] == ["price", "ctr"]


def test_a_difference_needs_both_numbers_and_an_interval_has_a_side_only_off_zero():
    assert difference_of(0.5, 0.25) == 0.25
    assert difference_of(None, 0.25) is None
    assert interval_side([0.01, 0.02]) == 1
    assert interval_side([-0.02, -0.01]) == -1
    assert interval_side([-0.01, 0.02]) == 0
    assert interval_side(None) == 0


def test_a_window_reads_as_its_two_dates():
    assert (
        window_text(["2026-10-19T00:00:00+00:00", "2026-11-02T00:00:00+00:00"]) == "2026-10-19 to 2026-11-02"
    )
    assert window_text(None) == "–"


def test_a_setting_reads_as_people_write_it():
    assert (
        setting_text(["2026-09-21T00:00:00+00:00", "2026-10-19T00:00:00+00:00"]) == "2026-09-21 to 2026-10-19"
    )
    assert setting_text("2026-10-19T00:00:00+00:00") == "2026-10-19"
    assert setting_text("2026-10-19T06:30:00+00:00") == "2026-10-19T06:30:00+00:00"
    assert setting_text(None) == "–"
    assert setting_text(0.05) == "0.05"
    assert setting_text([0, 1, 3, 7]) == "[0, 1, 3, 7]"
