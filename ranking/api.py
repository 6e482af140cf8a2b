"""The HTTP API: ``POST /api/rank``, ``POST /api/events``, ``GET /health``, ``GET /ready``.

Views are thin: they call the serving path or a service and respond; their schema is in
``ranking.api_schema``. Every refusal is a 4xx whose JSON names the field and the problem,
in one shape::

    {"error": "invalid_request", "detail": "products[3].price: must be a finite number",
     "errors": [{"field": "products[3].price", "problem": "must be a finite number"}]}
"""

from __future__ import annotations

import time
from dataclasses import replace

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.columns import EVENTS
from catalog.importers.validation import EVENT_CLOCK_SKEW, EVENT_EARLIEST, SMALLINT_MAX
from catalog.models import EventType
from catalog.services import events_ingest
from ranking.api_schema import (
    ERROR_RESPONSES,
    MACHINE_DESCRIPTION,
    RANK_EXAMPLE,
    ExternalIdField,
    RankRequestSchema,
    RankResponseSchema,
    TextField,
    error_schema,
    readiness_schema,
)
from ranking.serving import observability
from ranking.serving.access import ApiKeyRateThrottle, ApiKeyRequired
from ranking.serving.http import BoundedJSONParser, FastJSONRenderer, LengthRequired
from ranking.serving.rank import rank_serve
from ranking.serving.scoring import model_scorer
from ranking.serving.state import readiness_get


class MachineAPIView(APIView):
    """No session authentication (no CSRF, no user look-up): an API key, throttled per key."""

    authentication_classes: list = []
    permission_classes = [ApiKeyRequired]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [FastJSONRenderer]

    def permission_denied(self, request, message=None, code=None):
        raise exceptions.NotAuthenticated(f"authorization: {message or ApiKeyRequired.message}")

    def get_authenticate_header(self, request):
        # A challenge makes DRF answer 401 (not 403) to a missing or bad key.
        return "Api-Key"

    def initial(self, request, *args, **kwargs):
        # Django reads no body it was not told the length of: a chunked body would arrive
        # empty and be refused for the wrong reason, so say what is wrong instead.
        if (
            request.method == "POST"
            and request.META.get("HTTP_TRANSFER_ENCODING")
            and not request.META.get("CONTENT_LENGTH")
        ):
            raise LengthRequired("body: send a Content-Length; chunked request bodies are not read")
        super().initial(request, *args, **kwargs)


class RankView(MachineAPIView):
    @extend_schema(
        operation_id="rank",
        summary="Rank candidate products for a query",
        description=(
            "Orders the candidates best first with the production model, or with BM25 when there "
            "is none (fallback: true). Invalid input gets a 400 that names the field. " + MACHINE_DESCRIPTION
        ),
        tags=["ranking"],
        request=RankRequestSchema,
        responses={
            200: OpenApiResponse(RankResponseSchema, description="The ranking."),
            **ERROR_RESPONSES,
            503: error_schema(
                "The worker is still loading its first model, or cannot check a key it has not seen "
                "while the database is unreachable; retry after Retry-After seconds."
            ),
        },
        examples=[RANK_EXAMPLE],
    )
    def post(self, request):
        return rank_serve(request)


class FloorView(MachineAPIView):
    """The benchmark's floor: the same payload parsed and returned reordered, nothing else.
    Routed only with ``SEARCHOP_BENCH_ENDPOINTS`` (off by default)."""

    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request):
        data = request.data
        products = data.get("products", []) if isinstance(data, dict) else []
        ranked = [
            {"id": p.get("id"), "title": p.get("title"), "score": 0.5}
            for p in reversed(products)
            if isinstance(p, dict)
        ]
        return Response({"ranked_products": ranked, "query": data.get("query"), "num_products": len(ranked)})


class RankTwoRankersView(RankView):
    """The benchmark's two rankers per request: ``/api/rank`` with the production model
    scoring the same matrix a second time, as a challenger of the same size would (what an
    experiment costs). Routed only with ``SEARCHOP_BENCH_ENDPOINTS``."""

    @extend_schema(exclude=True)
    def post(self, request):
        return rank_serve(request, also=lambda state: [replace(model_scorer(state), name="second")])


class EventsView(MachineAPIView):
    @extend_schema_serializer(component_name="Event")
    class EventInput(serializers.Serializer):
        event_id = serializers.UUIDField()
        event_type = serializers.ChoiceField(choices=[choice.value for choice in EventType])
        product_id = ExternalIdField(
            max_length=EVENTS.limits["product_id"],
            help_text="The product's external_id; one the catalog does not know is kept.",
        )
        request_id = TextField(
            max_length=EVENTS.limits["request_id"],
            required=False,
            allow_blank=True,
            default="",
            help_text="The request_id /api/rank returned with the list.",
        )
        position = serializers.IntegerField(
            min_value=1,
            max_value=SMALLINT_MAX,
            required=False,
            allow_null=True,
            help_text="1-based position in the list; required for an impression.",
        )
        timestamp = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")
        query = TextField(
            max_length=EVENTS.limits["query"], required=False, allow_blank=True, allow_null=True
        )
        user_id = TextField(
            max_length=EVENTS.limits["user_id"], required=False, allow_blank=True, allow_null=True
        )
        session_id = TextField(
            max_length=EVENTS.limits["session_id"], required=False, allow_blank=True, allow_null=True
        )

        def validate_timestamp(self, value):
            # Events happen now or were recorded a while ago: a clock ahead by more than a
            # day, or a time before 2000, is a client's mistake, not an event to keep.
            if value is not None and not (EVENT_EARLIEST <= value <= timezone.now() + EVENT_CLOCK_SKEW):
                raise serializers.ValidationError(
                    f"must lie between {EVENT_EARLIEST:%Y-%m-%d} and a day from now"
                )
            return value

        def validate(self, attrs):
            if attrs["event_type"] == EventType.IMPRESSION and not attrs.get("position"):
                raise serializers.ValidationError({"position": "is required for an impression"})
            return attrs

    class BatchInput(serializers.Serializer):
        events = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=1000)

    @extend_schema_serializer(component_name="EventBatchResult")
    class BatchOutput(serializers.Serializer):
        received = serializers.IntegerField()
        stored = serializers.IntegerField(help_text="New events; the rest were already stored (re-sent).")
        duplicates = serializers.IntegerField()

    @extend_schema(
        operation_id="events_ingest",
        summary="Record a batch of clickstream events (idempotent by event_id, all or nothing)",
        description=(
            "Each event names the list it came from by request_id (from /api/rank); query, user "
            "and session default to that request's. Re-sent events (same event_id) are stored "
            "once. Answers 200 only after the batch is committed; any invalid event rejects the "
            "whole batch with a 400 naming it (events[2].position). " + MACHINE_DESCRIPTION
        ),
        tags=["ranking"],
        request=inline_serializer(
            "EventBatch",
            {"events": serializers.ListField(child=EventInput(), min_length=1, max_length=1000)},
        ),
        responses={
            200: OpenApiResponse(BatchOutput, description="Stored."),
            **ERROR_RESPONSES,
            503: error_schema(
                "The database is unreachable: nothing was stored; retry after Retry-After seconds."
            ),
        },
    )
    def post(self, request):
        batch = self.BatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        events = self.EventInput(data=batch.validated_data["events"], many=True)
        if not events.is_valid():
            raise exceptions.ValidationError({"events": events.errors})
        result = events_ingest(events=events.validated_data)
        observability.events_observe(
            [item["event_type"] for item in events.validated_data], result.duplicates
        )
        return Response(self.BatchOutput(result).data)


class ProbeView(APIView):
    """For the orchestrator: no key, no throttle, JSON."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer]


class HealthView(ProbeView):
    """Liveness: the process answers. Touches neither the database nor the model."""

    @extend_schema(
        operation_id="health",
        summary="Liveness",
        tags=["ops"],
        auth=[],
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(help_text='Always "healthy".'),
                    "time": serializers.FloatField(help_text="The server's clock, Unix seconds."),
                },
            )
        },
    )
    def get(self, request):
        return Response({"status": "healthy", "time": time.time()})


class ReadyView(ProbeView):
    """Readiness: the database answers and a model is loaded, or the fallback is active."""

    @extend_schema(
        operation_id="ready",
        summary="Readiness: 503 until the database answers and a model (or the fallback) is loaded",
        tags=["ops"],
        auth=[],
        responses={
            200: OpenApiResponse(readiness_schema("Ready", "ready"), description="Ready to rank."),
            503: OpenApiResponse(
                readiness_schema("NotReady", "unavailable"),
                description="The database does not answer, or the model is still loading.",
            ),
        },
    )
    def get(self, request):
        body, status = readiness_get()
        return Response(body, status=status)
