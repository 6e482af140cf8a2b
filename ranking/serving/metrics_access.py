"""``GET /metrics``, for Prometheus only: it names the models, their versions and the traffic.

A request is let through when it carries the token (``Authorization: Bearer <token>``,
``SEARCHOP_METRICS_TOKEN``), or when it comes straight from an address in
``SEARCHOP_METRICS_ALLOWED_NETWORKS`` (loopback by default). A request that passed through a
proxy (it has ``X-Forwarded-For``) needs the token whatever the proxy's own address: the
ingress sits inside the cluster's networks, so its address says nothing about the client.
Anything else gets a 403 in the API's error shape.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView

from ranking.drift.gauges import drift_gauges_refresh

REFUSAL = "send Authorization: Bearer <SEARCHOP_METRICS_TOKEN>, or scrape from an allowed network"


def metrics_access_allowed(request: HttpRequest) -> bool:
    """Whether ``request`` may read the metrics (token, or a direct connection from an
    allowed network)."""
    token = settings.SEARCHOP_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if sent and hmac.compare_digest(sent.encode(), token.encode()):
            return True
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.SEARCHOP_METRICS_ALLOWED_NETWORKS
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_access_allowed(request):
        return JsonResponse(
            {
                "error": "forbidden",
                "detail": f"authorization: {REFUSAL}",
                "errors": [{"field": "authorization", "problem": REFUSAL}],
            },
            status=403,
        )
    drift_gauges_refresh()
    return ExportToDjangoView(request)
