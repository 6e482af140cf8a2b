"""The HTTP API: ``POST /api/rank``, ``POST /api/events``, ``GET /health``, ``GET /ready``.

Views are thin: they parse, call the rank pipeline or a service, and respond. Every refusal
is a 4xx whose JSON names the field and the problem, in one shape::

    {"error": "invalid_request", "detail": "products[3].price: must be a finite number",
     "errors": [{"field": "products[3].price", "problem": "must be a finite number"}]}
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import EventType
from catalog.services import events_ingest
from ranking import observability
from ranking.access import ApiKeyRateThrottle, ApiKeyRequired
from ranking.http import BoundedJSONParser, FastJSONRenderer, InvalidInput
from ranking.impression_log import impression_log_record
from ranking.rank import (
    MAX_DESCRIPTION,
    MAX_ID_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_SHORT_TEXT,
    RankInputError,
    rank_request_validate,
    rank_run,
    response_build,
    step_metrics_observe,
)
from ranking.serving import SERVING, ServingUnavailable, serving_state_get

# ---------------------------------------------------------------------------------------
# Schema (documentation only: /api/rank validates in one lean pass, see ranking.rank)
# ---------------------------------------------------------------------------------------


class RankProductSchema(serializers.Serializer):
    id = serializers.CharField(
        max_length=MAX_ID_LENGTH, help_text='The product\'s external_id; 1 and "1" are one.'
    )
    title = serializers.CharField(max_length=MAX_SHORT_TEXT)
    price = serializers.FloatField(min_value=0)
    category = serializers.CharField(max_length=MAX_SHORT_TEXT, allow_blank=True)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True)
    brand = serializers.CharField(max_length=MAX_SHORT_TEXT, required=False, allow_blank=True)
    rating = serializers.FloatField(min_value=0, max_value=5, required=False, allow_null=True)


class RankRequestSchema(serializers.Serializer):
    query = serializers.CharField(max_length=MAX_QUERY_LENGTH, allow_blank=True)
    user_id = serializers.CharField(max_length=MAX_ID_LENGTH, required=False, allow_null=True)
    session_id = serializers.CharField(max_length=MAX_ID_LENGTH, required=False, allow_null=True)
    products = RankProductSchema(
        many=True, help_text="At most SEARCHOP_MAX_CANDIDATES (default 1,000); ids unique."
    )
    limit = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    explain = serializers.BooleanField(required=False, default=False)


class RankedProductSchema(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    score = serializers.FloatField(min_value=0, max_value=1, help_text="logistic(raw_score)")
    rank = serializers.IntegerField(min_value=1)
    raw_score = serializers.FloatField()
    features = serializers.DictField(child=serializers.FloatField(), required=False)
    contributions = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="LightGBM pred_contrib; sums to raw_score"
    )


class RankResponseSchema(serializers.Serializer):
    ranked_products = RankedProductSchema(many=True)
    query = serializers.CharField()
    num_products = serializers.IntegerField(min_value=0)
    num_candidates = serializers.IntegerField(min_value=0)
    request_id = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    fallback = serializers.BooleanField()
    fallback_reason = serializers.CharField(required=False)


class ErrorItemSchema(serializers.Serializer):
    field = serializers.CharField()
    problem = serializers.CharField()


class ErrorSchema(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    errors = ErrorItemSchema(many=True)
    retry_after_seconds = serializers.IntegerField(required=False)


ERROR_RESPONSES = {
    400: ErrorSchema,
    401: ErrorSchema,
    403: ErrorSchema,
    413: ErrorSchema,
    415: ErrorSchema,
    429: ErrorSchema,
}
RANK_EXAMPLE = OpenApiExample(
    "Two candidates",
    value={
        "query": "red running shoes",
        "user_id": "U0001",
        "products": [
            {
                "id": "P00001",
                "title": "Nike Air 270 Red Running Shoes",
                "price": 119.99,
                "category": "Running Shoes",
            },
            {
                "id": "P00002",
                "title": "Asics Gel Blue Trainers",
                "price": 89.0,
                "category": "Running Shoes",
                "rating": 4.4,
            },
        ],
        "limit": 10,
    },
    request_only=True,
)


# ---------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------


class MachineAPIView(APIView):
    """No session authentication (no CSRF, no user look-up): an API key, throttled per key."""

    authentication_classes: list = []
    permission_classes = [ApiKeyRequired]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [FastJSONRenderer]

    def permission_denied(self, request, message=None, code=None):
        raise exceptions.NotAuthenticated(f"authorization: {message or ApiKeyRequired.message}")


class RankView(MachineAPIView):
    @extend_schema(
        operation_id="rank",
        summary="Rank candidate products for a query",
        request=RankRequestSchema,
        responses={200: RankResponseSchema, **ERROR_RESPONSES, 503: ErrorSchema},
        examples=[RANK_EXAMPLE],
        parameters=[
            OpenApiParameter("Authorization", str, OpenApiParameter.HEADER, description="Api-Key <key>")
        ],
    )
    def post(self, request):
        started = time.perf_counter()
        try:
            rank_request = rank_request_validate(request.data)
        except RankInputError as error:
            observability.RANK_REJECTED.labels(status=str(error.status)).inc()
            raise InvalidInput([{"field": error.field, "problem": error.problem}], error.status) from error
        validated = time.perf_counter()
        try:
            state = serving_state_get()
        except ServingUnavailable as error:
            raise exceptions.APIException(f"model: {error}; retry shortly") from error
        result = rank_run(state, rank_request)
        request_id = uuid.uuid4().hex
        logged = time.perf_counter()
        returned_ids = [rank_request.candidates[i].id for i in result.order.tolist()]
        impression_log_record(
            request_id=request_id,
            query=rank_request.query,
            query_norm=rank_request.query_norm,
            user_id=rank_request.user_id,
            session_id=rank_request.session_id,
            product_ids=returned_ids,
            model_version=state.model_version,
            fallback=state.fallback,
        )
        body = response_build(request=rank_request, result=result, state=state, request_id=request_id)
        finished = time.perf_counter()
        timings = {"validate": validated - started, **result.timings, "log": finished - logged}
        step_metrics_observe(timings)
        version_label = str(state.model_version) if not state.fallback else "fallback"
        observability.RANK_LATENCY.labels(model_version=version_label).observe(finished - started)
        observability.RANK_CANDIDATES.observe(len(rank_request.candidates))
        if state.fallback:
            reason = "no_model" if state.fallback_reason == "no production model" else "model_failed"
            observability.RANK_FALLBACKS.labels(reason=reason).inc()
        return Response(body)


class FloorView(MachineAPIView):
    """The benchmark's floor: the same payload parsed and returned reordered, nothing else.
    Enabled only with ``SEARCHOP_BENCH_FLOOR`` (off by default)."""

    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request):
        if not settings.SEARCHOP_BENCH_FLOOR:
            raise exceptions.NotFound("not enabled")
        data = request.data
        products = data.get("products", []) if isinstance(data, dict) else []
        ranked = [
            {"id": str(p.get("id")), "title": p.get("title"), "score": 0.5}
            for p in reversed(products)
            if isinstance(p, dict)
        ]
        return Response({"ranked_products": ranked, "query": data.get("query"), "num_products": len(ranked)})


class EventsView(MachineAPIView):
    class EventInput(serializers.Serializer):
        event_id = serializers.UUIDField()
        event_type = serializers.ChoiceField(choices=[choice.value for choice in EventType])
        product_id = serializers.CharField(max_length=128, help_text="The product's external_id.")
        request_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        position = serializers.IntegerField(min_value=1, max_value=32767, required=False, allow_null=True)
        timestamp = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")
        query = serializers.CharField(max_length=512, required=False, allow_blank=True, allow_null=True)
        user_id = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)
        session_id = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)

        def validate(self, attrs):
            if attrs["event_type"] == EventType.IMPRESSION and not attrs.get("position"):
                raise serializers.ValidationError({"position": "is required for an impression"})
            return attrs

    class BatchInput(serializers.Serializer):
        events = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=1000)

    class BatchOutput(serializers.Serializer):
        received = serializers.IntegerField()
        stored = serializers.IntegerField(help_text="New events; the rest were already stored (re-sent).")
        duplicates = serializers.IntegerField()

    @extend_schema(
        operation_id="events_ingest",
        summary="Record a batch of clickstream events (idempotent by event_id, all or nothing)",
        request=inline_serializer("EventBatch", {"events": EventInput(many=True)}),
        responses={200: BatchOutput, **ERROR_RESPONSES},
    )
    def post(self, request):
        batch = self.BatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        events = self.EventInput(data=batch.validated_data["events"], many=True)
        if not events.is_valid():
            raise exceptions.ValidationError({"events": events.errors})
        result = events_ingest(events=events.validated_data)
        for item in events.validated_data:
            observability.EVENTS_INGESTED.labels(event_type=item["event_type"]).inc()
        observability.EVENTS_DUPLICATE.inc(result.duplicates)
        return Response(self.BatchOutput(result).data)


class HealthView(APIView):
    """Liveness: the process answers. Touches neither the database nor the model."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="health",
        responses={
            200: inline_serializer(
                "Health", {"status": serializers.CharField(), "time": serializers.FloatField()}
            )
        },
    )
    def get(self, request):
        return Response({"status": "healthy", "time": time.time()})


class ReadyView(APIView):
    """Readiness: the database answers and a model is loaded, or the fallback is active."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="ready",
        responses={
            (200, "application/json"): inline_serializer(
                "Ready",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "model_version": serializers.IntegerField(allow_null=True),
                    "fallback": serializers.BooleanField(allow_null=True),
                    "reason": serializers.CharField(allow_null=True),
                },
            ),
            (503, "application/json"): inline_serializer(
                "NotReady",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "model_version": serializers.IntegerField(allow_null=True),
                    "fallback": serializers.BooleanField(allow_null=True),
                    "reason": serializers.CharField(allow_null=True),
                },
            ),
        },
    )
    def get(self, request):
        body: dict[str, Any] = {
            "status": "ready",
            "database": "ok",
            "model_version": None,
            "fallback": None,
            "reason": None,
        }
        code = 200
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            body.update(status="unavailable", database=f"error: {error}".strip())
            code = 503
        state = SERVING.peek()
        if state is None:
            if code == 200:
                try:
                    SERVING.warm()
                except DatabaseError as error:  # e.g. not migrated yet
                    body.update(database=f"error: {error}".strip())
            body.update(status="unavailable", reason="the model is loading")
            code = 503
        else:
            body.update(
                model_version=state.model_version,
                fallback=state.fallback,
                reason=state.fallback_reason
                or (f"serving v{state.model_version}" + (" (compiled)" if state.compiled else "")),
            )
        return Response(body, status=code)
