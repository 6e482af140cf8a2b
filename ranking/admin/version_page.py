"""The version page for people: the evaluation report as tables, feature importance as a
chart and how to read them. The report is read through ``ranking.reports`` only."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ranking.admin.tables import metric_cell
from ranking.charts import bar_chart_svg
from ranking.models import ModelVersion
from ranking.reports import (
    SEGMENT_RANKERS,
    report_feature_importance,
    report_gates,
    report_key_metrics,
    report_ranker_rows,
    report_segment_rows,
    report_variant_rows,
)

TEMPLATE = "admin/ranking/modelversion/includes/report_sections.html"
# PostgreSQL's jsonb keeps no key order; the windows are shown in time order.
WINDOW_ORDER = (
    "features_since",
    "features_until",
    "train",
    "validation",
    "eval_features_since",
    "eval_features_until",
    "eval",
)
VARIANT_LABELS = {
    "position_bias": "with position-bias correction",
    "no_position_bias": "without position-bias correction",
}

HOW_TO_READ = (
    "Every ranker is scored on the same evaluation lists, which the model never saw. Click "
    "metrics (NDCG@10, MRR, CTR@10) count the clicks the shop logged, and people click what "
    "they were shown on top: they favour the order that produced the clicks (the logged order, "
    "“logging”), so a model can score below it and still be better. The debiased NDCG@10 "
    "weighs each click by how likely its position was to be looked at, which removes most of "
    "that advantage: the promotion decision uses it. True NDCG@10 compares with the real "
    "relevance, which exists only on synthetic data (the demo shop); on a real shop that "
    "column is empty. An interval that lies wholly above 0 means the model is better than "
    "that ranker on these lists with 95% confidence."
)


def report_sections_html(obj: ModelVersion, *, raw_url: str) -> SafeString:
    """The report's sections as tables: rankers with intervals, segments, the two variants,
    the decision and its gates, the data windows and counts."""
    report = obj.report
    key = report_key_metrics(report, obj.decision)
    context: dict[str, Any] = {
        "raw_url": raw_url,
        "production_note": _production_note(report),
        "rankers": [
            {
                "name": row.name,
                "role": row.role,
                "description": row.description,
                "applies": row.applies,
                "cells": [
                    metric_cell(value) for value in (row.ndcg, row.mrr, row.ctr, row.debiased, row.truth)
                ]
                + (
                    ["", ""]
                    if row.name == "model"
                    else [_interval_text(row.interval_debiased), _interval_text(row.interval_truth)]
                ),
            }
            for row in report_ranker_rows(report)
        ],
        "segment_rankers": SEGMENT_RANKERS,
        "segments": [
            {
                "segment": row.segment,
                "cells": [
                    "–" if row.lists is None else f"{row.lists:,}",
                    "–" if row.lists_with_click is None else f"{row.lists_with_click:,}",
                    *(metric_cell(row.debiased[name]) for name in SEGMENT_RANKERS),
                    *(metric_cell(row.truth[name]) for name in SEGMENT_RANKERS),
                ],
            }
            for row in report_segment_rows(report)
        ],
        "variants": [
            {
                "label": VARIANT_LABELS.get(row.name, row.name),
                "chosen": row.chosen,
                "cells": [metric_cell(row.ndcg), metric_cell(row.debiased), metric_cell(row.truth)],
            }
            for row in report_variant_rows(report)
        ],
        "decision_action": key.decision_action,
        "decision_reason": key.decision_reason,
        "gates": [(name.replace("_", " "), passed) for name, passed in report_gates(report, obj.decision)],
        "windows": _windows(obj.windows),
        "counts": [
            (name.replace("_", " "), _count_text(value)) for name, value in sorted(obj.counts.items())
        ],
    }
    # The template engine escaped every value; mark_safe keeps the admin from escaping twice.
    return mark_safe(render_to_string(TEMPLATE, context))


def feature_importance_svg(obj: ModelVersion) -> SafeString:
    """Feature importance as horizontal bars, largest first, named by its kind (gain)."""
    bars = report_feature_importance(obj.feature_importance)
    chart = bar_chart_svg(
        title=f"Feature importance of v{obj.version}: total gain of the splits on each feature",
        bars=bars,
        value_label="gain: the training objective's improvement by the splits on the feature, all trees",
    )
    # Built from numbers and escaped names by ranking.charts.
    return mark_safe(chart)


def _production_note(report: Any) -> str:
    """Which production version the report compared with, and how that went."""
    report = report if isinstance(report, dict) else {}
    note, version = str(report.get("production_note") or ""), report.get("production_version")
    return f"v{version} ({note})" if version is not None else note


def _windows(windows: Any) -> list[tuple[str, str, str]]:
    order = {name: index for index, name in enumerate(WINDOW_ORDER)}
    rows = []
    for name, value in sorted((windows or {}).items(), key=lambda item: order.get(item[0], len(order))):
        start, end = value if isinstance(value, list) and len(value) == 2 else ("", value)
        rows.append(
            (name.replace("_", " "), str(start)[:16].replace("T", " "), str(end)[:16].replace("T", " "))
        )
    return rows


def _interval_text(interval: tuple[float, float] | None) -> str:
    return "–" if interval is None else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def _count_text(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
