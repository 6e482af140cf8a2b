"""training.dashboard.charts: SVG drawn on the server from numbers and labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from training.dashboard.charts import BOTTOM, HEIGHT, TOP, Series, bar_chart_svg, line_chart_svg, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1.0), (0.3, 0.5), (1, 1), (1.2, 2), (2.2, 2.5), (7, 10), (0.0042, 0.005), (130, 200)],
)
def test_the_axis_top_is_the_next_round_number(value, ceiling):
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_a_line_chart_is_well_formed_svg_with_one_path_per_series():
    svg = line_chart_svg(
        title="Per minute",
        labels=["a", "b", "c"],
        series=[Series("searches", [1, 2, 4]), Series("events", [0, 1, 1])],
    )
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}path")) == 2


def test_a_gap_in_a_series_lifts_the_pen():
    svg = line_chart_svg(
        title="t", labels=["1", "2", "3", "4"], series=[Series("p99", [1.0, None, 2.0, 2.0])]
    )
    (path,) = ET.fromstring(svg).findall(f"{SVG}path")
    assert [step[0] for step in path.get("d").split()] == ["M", "M", "L"]


def test_the_highest_value_reaches_the_top_of_a_round_axis():
    svg = bar_chart_svg(title="CTR", labels=["1", "2"], values=[0.5, None])
    (bar,) = ET.fromstring(svg).findall(f"{SVG}rect")  # None draws no bar
    assert float(bar.get("y")) == pytest.approx(TOP)
    assert float(bar.get("height")) == pytest.approx(HEIGHT - TOP - BOTTOM)


def test_labels_and_titles_are_escaped():
    svg = line_chart_svg(title="<script>", labels=["a&b"], series=[Series("<s>", [1.0])])
    ET.fromstring(svg)  # still well-formed
    assert "<script>" not in svg
    assert re.search(r"&lt;script&gt;", svg)
