"""The control room's SVG charts: values become points, periods become shaded bands, text is
escaped, and nothing refers to another host."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from ranking.charts import Band, Series, bar_chart_svg, line_chart_svg

DAY0 = datetime(2026, 10, 5, tzinfo=UTC)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def count(svg: str, tag: str, css_class: str) -> int:
    return len(parse(svg).findall(f".//{{http://www.w3.org/2000/svg}}{tag}[@class='{css_class}']"))


def test_a_line_chart_draws_a_point_per_value_and_leaves_gaps_for_missing_values():
    points = [(DAY0, 0.40), (DAY0 + timedelta(days=7), None), (DAY0 + timedelta(days=14), 0.45)]
    svg = line_chart_svg(title="NDCG", series=[Series("model", points)], now=DAY0 + timedelta(days=20))

    assert count(svg, "circle", "point") == 2
    assert parse(svg).get("data-points") == "2"
    assert "<polyline" not in svg  # two values separated by a gap: no line joins them


def test_a_band_is_shaded_from_its_start_to_its_end_or_to_now():
    series = [Series("model", [(DAY0, 0.4), (DAY0 + timedelta(days=10), 0.5)])]
    bands = [
        Band(DAY0 + timedelta(days=2), DAY0 + timedelta(days=4), "v1"),
        Band(DAY0 + timedelta(days=8), None, "v2"),
    ]
    svg = line_chart_svg(title="t", series=series, bands=bands, now=DAY0 + timedelta(days=10))

    widths = [
        float(rect.get("width"))
        for rect in parse(svg).iter("{http://www.w3.org/2000/svg}rect")
        if rect.get("class") == "band"
    ]
    assert len(widths) == 2
    assert widths[0] == widths[1]  # two days each: the second ends at now


def test_text_is_escaped_and_no_other_host_is_referenced():
    svg = line_chart_svg(title="<script>", series=[Series("a&b", [(DAY0, 0.5)])], now=DAY0)

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a&amp;b" in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_an_empty_chart_says_so():
    svg = line_chart_svg(title="t", series=[Series("model", [(DAY0, None)])], now=DAY0)

    assert parse(svg).get("data-points") == "0"
    assert "No values yet." in svg


def test_bars_keep_their_order_and_the_largest_spans_the_plot():
    svg = bar_chart_svg(
        title="gain", bars=[("p_rating", 800.0), ("t_bm25", 400.0), ("q_num", 0.0)], value_label="gain"
    )

    bars = [
        rect for rect in parse(svg).iter("{http://www.w3.org/2000/svg}rect") if rect.get("class") == "bar"
    ]
    widths = [float(bar.get("width")) for bar in bars]
    assert [bar.find("{http://www.w3.org/2000/svg}title").text.split(":")[0] for bar in bars] == [
        "p_rating",
        "t_bm25",
        "q_num",
    ]
    assert widths[0] == 2 * widths[1]
    assert widths[2] == 0
