"""Every page of the control room the browser tests open, declared once: add a page here and
the browser test logs in, opens it, saves its screenshot, checks it asked no other host for
anything (no CDN), that its charts drew data and that it fits the window.

``path`` may name rows the test seeds (``tests/e2e/test_control_room_pages.py``, ``seeded``):
``{production_pk}``, ``{candidate_pk}``, ``{production_version}``, ``{candidate_version}``; add a
key there when a page needs another row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str  # the screenshot's file name
    path: str
    shows: str  # a text the page must show once rendered
    charts: int = 0  # SVG charts (<svg class="chart">) that must draw data
    fits_window: bool = True  # no sideways scrolling in a 1,400 px window


PAGES: tuple[Page, ...] = (
    Page("landing", "/", shows="Production model"),
    Page("admin-index", "/admin/", shows="Model versions"),
    Page("model-version-list", "/admin/ranking/modelversion/", shows="Model versions"),
    Page("metric-history", "/admin/ranking/modelversion/metric-history/", shows="Metric history", charts=2),
    Page(
        "model-version-production",
        "/admin/ranking/modelversion/{production_pk}/change/",
        shows="Every ranker on the same evaluation lists",
        charts=1,
    ),
    Page(
        "model-version-candidate",
        "/admin/ranking/modelversion/{candidate_pk}/change/",
        shows="How to read this report",
        charts=1,
    ),
    Page(
        "compare",
        "/admin/ranking/modelversion/compare/?a={candidate_version}&b={production_version}",
        shows="Each on its own evaluation",
        charts=1,
    ),
    Page("playground", "/admin/ranking/playground/?q=running+shoes", shows="Query playground"),
    Page("api-clients", "/admin/ranking/apiclient/", shows="API clients"),
    Page("pipeline-runs", "/admin/training/pipelinerun/", shows="Pipeline runs"),
    Page("api-docs", "/api/docs/", shows="Rank candidate products for a query"),
    Page("api-schema", "/api/schema/", shows='"openapi"', fits_window=False),  # the raw JSON
)
