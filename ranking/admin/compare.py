"""The compare page (``/admin/ranking/modelversion/compare/?a=N&b=M``): two versions side by
side. Each version's metrics from its own report (its own evaluation window), both versions
scored on the same held-out lists with the paired interval of each difference, the settings
(hyperparameters, windows) that differ, and the feature importance difference as a chart.

The pairing is the training app's evaluation (``settings.SEARCHOP_VERSION_COMPARISON``: ranking
may not import training); it takes seconds, so the page shows it from the cache and computes
it when asked (``&paired=1``), from the evaluation features the pipeline built (building them
is the ``compare_models`` command's job: minutes on a large shop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

from ranking.admin.operated import OperatedAdmin
from ranking.comparison import (
    ComparisonUnavailable,
    difference_of,
    importance_difference_svg,
    importance_pair,
    interval_side,
    settings_pair,
    window_text,
)
from ranking.errors import RegistryError
from ranking.models import ModelVersion
from ranking.reports import report_interval, report_value
from ranking.selectors import model_version_production_get

# (label, where each version's own report keeps it)
OWN_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ndcg@10", ("metrics", "model", "ndcg@10")),
    ("MRR", ("metrics", "model", "mrr")),
    ("CTR@10", ("metrics", "model", "ctr@10")),
    ("debiased ndcg@10", ("debiased", "model", "ndcg@10")),
    ("true ndcg@10", ("truth", "model", "ndcg@10")),
    ("bm25 ndcg@10 (same window)", ("metrics", "bm25", "ndcg@10")),
    ("production ndcg@10 (same window)", ("metrics", "production", "ndcg@10")),
)
Comparer = Callable[..., dict[str, Any] | None]


class CompareForm(forms.Form):
    a = forms.TypedChoiceField(coerce=int, label="version A")
    b = forms.TypedChoiceField(coerce=int, label="version B")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            (v, f"v{v} ({status})")
            for v, status in ModelVersion.objects.order_by("-version").values_list("version", "status")
        ]
        self.fields["a"].choices = self.fields["b"].choices = choices


@dataclass(frozen=True)
class MetricRow:
    label: str
    a: float | None
    b: float | None
    interval: list[float] | None = None

    @property
    def difference(self) -> float | None:
        return difference_of(self.a, self.b)

    @property
    def side(self) -> str:
        """ "better" when the paired interval of a − b is above 0, "worse" below, else ""."""
        return {1: "better", -1: "worse"}.get(interval_side(self.interval), "")


def _own_metrics(a: ModelVersion, b: ModelVersion) -> list[MetricRow]:
    return [
        MetricRow(label, report_value(a.report, *keys), report_value(b.report, *keys))
        for label, keys in OWN_METRICS
    ]


def _with_default_b(query: QueryDict) -> QueryDict:
    """``?a=N`` alone (the version page's link) compares N with production, or with the
    version before N when N is production."""
    if not query.get("a") or query.get("b"):
        return query
    try:
        number = int(query["a"])
    except ValueError:
        return query
    production = model_version_production_get()
    other = production.version if production is not None and production.version != number else number - 1
    completed = query.copy()
    completed["b"] = str(other)
    return completed


def versions_compare_view(model_admin: OperatedAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = CompareForm(_with_default_b(request.GET) or None)
    context: dict[str, Any] = {"form": form, "title": "Compare two versions"}
    if not form.is_valid():
        return model_admin._render(request, "compare.html", **context)
    number_a, number_b = form.cleaned_data["a"], form.cleaned_data["b"]
    versions = {
        v.version: v
        for v in ModelVersion.objects.filter(version__in=[number_a, number_b]).defer("model_text")
    }
    a, b = versions[number_a], versions[number_b]
    label_a, label_b = f"v{a.version}", f"v{b.version}"
    compare: Comparer = import_string(settings.SEARCHOP_VERSION_COMPARISON)
    paired, problem = None, ""
    try:
        paired = compare(a=a.version, b=b.version, compute=request.GET.get("paired") == "1")
    except (RegistryError, ComparisonUnavailable) as error:
        problem = str(error)
    importance = importance_pair(a.feature_importance or {}, b.feature_importance or {})
    context.update(
        title=f"Compare {label_a} with {label_b}",
        a=a,
        b=b,
        own_metrics=_own_metrics(a, b),
        own_windows=[window_text((v.windows or {}).get("eval")) for v in (a, b)],
        paired_window=window_text(((paired or {}).get("windows") or {}).get("eval")),
        own_bm25_intervals=[report_interval(v.report, "model-bm25", "ndcg@10") for v in (a, b)],
        paired=paired,
        paired_rows=[
            MetricRow(r["metric"], r["a"], r["b"], r["interval"]) for r in (paired or {}).get("metrics", [])
        ],
        problem=problem,
        hyperparameters=settings_pair(a.hyperparameters or {}, b.hyperparameters or {}),
        windows=settings_pair(a.windows or {}, b.windows or {}),
        importance=importance,
        # Our own SVG: every text in it is escaped by importance_difference_svg.
        importance_svg=mark_safe(importance_difference_svg(importance, label_a=label_a, label_b=label_b)),
    )
    return model_admin._render(request, "compare.html", **context)
