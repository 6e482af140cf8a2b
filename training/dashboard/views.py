"""``/admin/dashboard/``: the traffic and health dashboard (staff; wired in
``searchop_site/urls.py`` through ``admin.site.admin_view``)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import mark_safe

from training.dashboard import histogram
from training.dashboard.charts import Series, bar_chart_svg, line_chart_svg
from training.dashboard.selectors import dashboard_get
from training.dashboard.traffic import DEFAULT_WINDOW, WINDOWS, Traffic


def _share(value: float) -> str:
    return f"{value:.0%}"


def _milliseconds(value: float) -> str:
    return f"{value * 1000:.3g} ms"  # three digits: the day's and week's are within 4.9 % anyway


def _rate(value: float) -> str:
    return f"{value:.3g}"


def traffic_charts(traffic: Traffic) -> dict[str, str]:
    """The page's charts as SVG text (already escaped)."""
    time_format = "%H:%M" if traffic.window.bucket == "minute" else "%a %H:00"
    labels = [bucket.start.strftime(time_format) for bucket in traffic.buckets]
    buckets = traffic.buckets
    hours = [rate.key.strftime("%a %H:00") for rate in traffic.ctr_by_hour]  # type: ignore[union-attr]
    charts = {
        "rates": line_chart_svg(
            title="Per minute",
            labels=labels,
            series=[
                Series("searches", [b.searches_per_minute for b in buckets]),
                Series("events", [b.events_per_minute for b in buckets]),
            ],
            fmt=_rate,
        ),
        "latency": line_chart_svg(
            title="Rank latency (logged, parse to order)",
            labels=labels,
            series=[
                Series("p50", [b.p50_seconds for b in buckets]),
                Series("p99", [b.p99_seconds for b in buckets]),
            ],
            fmt=_milliseconds,
        ),
        "fallback": line_chart_svg(
            title="Share of searches answered by the fallback",
            labels=labels,
            series=[Series("fallback share", [b.fallback_share for b in buckets])],
            fmt=_share,
        ),
        "ctr_hour": line_chart_svg(
            title="CTR by hour (clicks / impression events)",
            labels=hours,
            series=[Series("CTR", [rate.ctr for rate in traffic.ctr_by_hour])],
            fmt=_share,
        ),
        "ctr_position": bar_chart_svg(
            title="CTR by position",
            labels=[str(rate.key) for rate in traffic.ctr_by_position],
            values=[rate.ctr for rate in traffic.ctr_by_position],
            fmt=_share,
        ),
    }
    return {name: mark_safe(svg) for name, svg in charts.items()}  # built from escaped text


def _or_dash(value: float | None, fmt) -> str:
    return "–" if value is None else fmt(value)


def traffic_summary(traffic: Traffic) -> list[tuple[str, str]]:
    """The headline numbers of the range, as (label, text)."""
    return [
        ("Searches", f"{traffic.searches:,} ({_rate(traffic.searches_per_minute)} per minute)"),
        ("Events", f"{traffic.events:,} ({_rate(traffic.events_per_minute)} per minute)"),
        ("Rank latency p50 / p99", f"{_or_dash(traffic.p50_seconds, _milliseconds)} / {_or_dash(traffic.p99_seconds, _milliseconds)}"),
        ("Fallback share", f"{_or_dash(traffic.fallback_share, _share)} ({traffic.fallbacks:,} searches)"),
        ("CTR", f"{_or_dash(traffic.ctr, _share)} ({traffic.clicks:,} clicks / {traffic.impressions:,} impressions)"),
    ]  # fmt: skip


def dashboard_view(request: HttpRequest) -> HttpResponse:
    window = WINDOWS.get(request.GET.get("window", ""), WINDOWS[DEFAULT_WINDOW])
    dashboard = dashboard_get(window=window, now=timezone.now())
    context = {
        **admin.site.each_context(request),
        "title": "Traffic and health",
        "dashboard": dashboard,
        "traffic": dashboard.traffic,
        "beat": dashboard.beat,
        "rollup": dashboard.rollup,
        "histogram_error": f"{histogram.RELATIVE_ERROR:.1%}",
        "drift": dashboard.drift,
        "summary": traffic_summary(dashboard.traffic),
        "charts": traffic_charts(dashboard.traffic),
        "windows": list(WINDOWS),
    }
    return TemplateResponse(request, "admin/dashboard/dashboard.html", context)
