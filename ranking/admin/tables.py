"""The control room's building blocks: status badges, the metric table that the metric
history, the version page and the confirmation pages share, the reason form."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ranking.models import ModelStatus
from ranking.rankers import COMPARED
from ranking.reports import KeyMetrics, report_key_metrics

STATUS_COLOURS: dict[str, str] = {
    ModelStatus.PRODUCTION: "#2e7d32",
    ModelStatus.CANDIDATE: "#1565c0",
    ModelStatus.ARCHIVED: "#757575",
    ModelStatus.REJECTED: "#c62828",
}


def _baseline_reader(name: str) -> Callable[[KeyMetrics], Any]:
    return lambda metrics: metrics.baselines.get(name)


# The metric table: (group, [(column, how to read it from KeyMetrics)]).
MetricColumn = tuple[str, Callable[[KeyMetrics], Any]]
METRIC_GROUPS: list[tuple[str, list[MetricColumn]]] = [
    (
        "Model",
        [
            ("ndcg@10", lambda m: m.model.get("ndcg@10")),
            ("MRR", lambda m: m.model.get("mrr")),
            ("CTR@10", lambda m: m.model.get("ctr@10")),
        ],
    ),
    ("Baselines: ndcg@10", [(name, _baseline_reader(name)) for name in COMPARED]),
    (
        "Debiased ndcg@10",
        [("model", lambda m: m.debiased_model), ("logging", lambda m: m.debiased_logging)],
    ),
    ("True ndcg@10", [("model", lambda m: m.truth_model), ("bm25", lambda m: m.truth_bm25)]),
    ("Model − bm25", [("ndcg@10 interval", lambda m: m.interval_model_bm25)]),
]
# The metric history's table fits a 1,400 px window: the baselines a model must beat by name,
# the others (production, random, oracle) on the version page and in the CSV download.
HISTORY_BASELINES = ("bm25", "popularity", "logging")
HISTORY_GROUPS: list[tuple[str, list[MetricColumn]]] = [
    METRIC_GROUPS[0],
    ("Baselines: ndcg@10", [(name, _baseline_reader(name)) for name in HISTORY_BASELINES]),
    *METRIC_GROUPS[2:],
]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        max_length=2000,
        help_text="Required. Recorded in the audit trail with your user name.",
    )


def status_badge(status: str) -> SafeString:
    return format_html(
        '<strong style="color: {}">{}</strong>', STATUS_COLOURS.get(status, "inherit"), status or "-"
    )


def metric_cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, tuple):
        return f"[{value[0]:+.4f}, {value[1]:+.4f}]"
    return f"{value:.4f}"


def metric_table(
    model_versions: list[Any],
    *,
    admin_site_name: str,
    groups: list[tuple[str, list[MetricColumn]]] = METRIC_GROUPS,
) -> dict[str, Any]:
    """Rows of formatted cells for ``includes/metric_table.html``; each item needs
    ``version``, ``status``, ``created_at`` and either ``metrics`` or ``report``/``decision``."""
    rows = []
    for item in model_versions:
        metrics = getattr(item, "metrics", None) or report_key_metrics(item.report, item.decision)
        pk = getattr(item, "pk", None)
        rows.append(
            {
                "version": item.version,
                "url": reverse(f"{admin_site_name}:ranking_modelversion_change", args=[pk]) if pk else "",
                "status": status_badge(item.status),
                "is_production": item.status == ModelStatus.PRODUCTION,
                "created_at": item.created_at,
                "cells": [metric_cell(read(metrics)) for _, columns in groups for _, read in columns],
                "decision": metrics.decision_action or "–",
                "decision_reason": metrics.decision_reason,
            }
        )
    return {
        "groups": [(group, len(columns)) for group, columns in groups],
        "columns": [label for _, columns in groups for label, _ in columns],
        "rows": rows,
    }


def metric_csv_rows(model_versions: list[Any]) -> list[list[str]]:
    """The metric history as CSV rows, a header first: every column of METRIC_GROUPS (an
    interval as two columns) and the decision with its reason."""
    header = ["version", "status", "created_at"]
    for group, columns in METRIC_GROUPS:
        for label, _ in columns:
            name = f"{group}: {label}".lower().replace(" ", "_").replace("−", "minus")
            header += [f"{name}_low", f"{name}_high"] if "interval" in label else [name]
    rows = [[*header, "decision", "decision_reason"]]
    for item in model_versions:
        metrics = getattr(item, "metrics", None) or report_key_metrics(item.report, item.decision)
        cells = [str(item.version), item.status, item.created_at.isoformat()]
        for _, columns in METRIC_GROUPS:
            for label, read in columns:
                value = read(metrics)
                if "interval" in label:
                    cells += ["", ""] if value is None else [f"{value[0]:.6f}", f"{value[1]:.6f}"]
                else:
                    cells.append("" if value is None else f"{value:.6f}")
        rows.append([*cells, metrics.decision_action, metrics.decision_reason])
    return rows


def key_value_table(values: Any) -> SafeString:
    """A flat mapping as a two-column table, keys sorted; nested values as compact JSON."""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td><code>{}</code></td></tr>",
        (
            (key, value if isinstance(value, str | int | float | bool) else json.dumps(value))
            for key, value in sorted((values or {}).items())
        ),
    )
    return format_html("<table><tbody>{}</tbody></table>", rows) if values else format_html("–")


def pretty_json(value: Any) -> SafeString:
    return format_html("<pre style='margin: 0'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))
