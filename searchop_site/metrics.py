"""``GET /metrics``: the serving metrics (``ranking.serving.metrics_access``, which decides who
may read them) and, after them, the operations gauges read from the database
(``training.dashboard.metrics``: beat's heartbeat, the pipeline's outcome). Wired here since
ranking cannot import training."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from ranking.serving.metrics_access import metrics_view
from training.dashboard.metrics import operations_metrics_text


def metrics_with_operations_view(request: HttpRequest) -> HttpResponse:
    response = metrics_view(request)
    if response.status_code == 200:
        response.content = response.content + operations_metrics_text()
    return response
