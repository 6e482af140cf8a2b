from django.conf import settings
from django.contrib import admin
from django.urls import path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ranking import api
from ranking.admin.playground import playground_view
from ranking.serving.metrics_access import metrics_view
from training.views import landing_view, readme_view

urlpatterns = [
    path("", landing_view, name="landing"),
    path("readme/", readme_view, name="readme"),
    path("api/rank", api.RankView.as_view(), name="rank"),
    path("api/events", api.EventsView.as_view(), name="events"),
    path("health", api.HealthView.as_view(), name="health"),
    path("ready", api.ReadyView.as_view(), name="ready"),
    # JSON as application/json first, so a browser shows the schema instead of downloading it;
    # ?format=yaml (or Accept: application/yaml) still gives the YAML.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(
            renderer_classes=[
                OpenApiJsonRenderer2,
                OpenApiYamlRenderer,
                OpenApiYamlRenderer2,
                OpenApiJsonRenderer,
            ]
        ),
        name="schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
    # Before the admin's own URLs, which would take "playground" for a model name.
    path("admin/ranking/playground/", admin.site.admin_view(playground_view), name="ranking-playground"),
    path("admin/", admin.site.urls),
]

if settings.SEARCHOP_BENCH_ENDPOINTS:  # the benchmark's references; a production server has none
    urlpatterns += [
        path("api/bench/floor", api.FloorView.as_view(), name="bench-floor"),
        path("api/bench/rank-two-rankers", api.RankTwoRankersView.as_view(), name="bench-rank-two-rankers"),
    ]
