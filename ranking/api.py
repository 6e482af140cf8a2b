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
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
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

# Non-empty and without NUL bytes. drf-spectacular adds the empty string as a second ``oneOf``
# branch where blank is allowed, so the pattern itself must not match "".
NO_NUL_PATTERN = "^[^\\u0000]+$"


class TextField(serializers.CharField):
    """A ``CharField`` (same behaviour) documented as what both validators accept: at most
    ``max_length`` characters and no NUL bytes; empty only with ``allow_blank``."""


class TextFieldSchema(OpenApiSerializerFieldExtension):
    target_class = TextField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema: dict[str, Any] = {"type": "string", "pattern": NO_NUL_PATTERN}
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        return schema


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL_PATTERN},
            {"type": "integer"},
        ]
    }
)
class ExternalIdField(serializers.CharField):
    """A product's ``external_id``: a string, or an integer, compared as a string (1 and "1"
    are one product). A ``CharField`` for ``/api/events`` (which also accepts integers)."""


@extend_schema_serializer(component_name="RankProduct")
class RankProductSchema(serializers.Serializer):
    id = ExternalIdField(help_text='The product\'s external_id; 1 and "1" are one product; unique.')
    title = TextField(max_length=MAX_SHORT_TEXT, allow_blank=True)
    price = serializers.FloatField(min_value=0, help_text="Finite, >= 0.")
    category = TextField(max_length=MAX_SHORT_TEXT, allow_blank=True)
    description = TextField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, allow_null=True)
    brand = TextField(max_length=MAX_SHORT_TEXT, required=False, allow_blank=True, allow_null=True)
    rating = serializers.FloatField(min_value=0, max_value=5, required=False, allow_null=True)


@extend_schema_serializer(component_name="Rank")
class RankRequestSchema(serializers.Serializer):
    query = TextField(max_length=MAX_QUERY_LENGTH, allow_blank=True)
    user_id = TextField(max_length=MAX_ID_LENGTH, required=False, allow_blank=True, allow_null=True)
    session_id = TextField(max_length=MAX_ID_LENGTH, required=False, allow_blank=True, allow_null=True)
    products = serializers.ListField(
        child=RankProductSchema(),
        max_length=settings.SEARCHOP_MAX_CANDIDATES,
        help_text=(
            "The candidates, at most SEARCHOP_MAX_CANDIDATES (here "
            f"{settings.SEARCHOP_MAX_CANDIDATES:,}); ids unique. A product the catalog knows is "
            "scored with its catalog attributes; the request's are used only for one it does not."
        ),
    )
    limit = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Return at most this many."
    )
    explain = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=False,
        help_text="Add each product's feature values and LightGBM contributions.",
    )


@extend_schema_serializer(component_name="RankedProduct")
class RankedProductSchema(serializers.Serializer):
    id = serializers.CharField(help_text="The id as sent, as a string.")
    title = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(min_value=0, max_value=1, help_text="logistic(raw_score)")
    rank = serializers.IntegerField(min_value=1)
    raw_score = serializers.FloatField()
    features = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="With explain: the feature values."
    )
    contributions = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text="With explain and a model: LightGBM pred_contrib per feature and bias; sums to raw_score.",
    )


@extend_schema_serializer(component_name="RankResponse")
class RankResponseSchema(serializers.Serializer):
    ranked_products = RankedProductSchema(many=True, help_text="Best first; ties keep the input order.")
    query = serializers.CharField(allow_blank=True)
    num_products = serializers.IntegerField(min_value=0, help_text="Returned (after limit).")
    num_candidates = serializers.IntegerField(min_value=0)
    request_id = serializers.RegexField(
        r"^[0-9a-f]{32}$", help_text="Send it back with the events of this list."
    )
    model_version = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="null when the BM25 fallback answered."
    )
    fallback = serializers.BooleanField()
    fallback_reason = serializers.CharField(required=False, help_text="Only with fallback: why.")


@extend_schema_serializer(component_name="ErrorItem")
class ErrorItemSchema(serializers.Serializer):
    field = serializers.CharField(help_text='e.g. "products[3].price", "body", "authorization".')
    problem = serializers.CharField()


@extend_schema_serializer(component_name="Error")
class ErrorSchema(serializers.Serializer):
    error = serializers.CharField(
        help_text="invalid_request, parse_error, body_too_large, unsupported_media_type, "
        "not_authenticated, throttled, model_unavailable, ..."
    )
    detail = serializers.CharField(help_text='"<field>: <problem>", joined with "; ".')
    errors = ErrorItemSchema(many=True)
    retry_after_seconds = serializers.IntegerField(
        required=False, min_value=0, help_text="With 429 (also in the Retry-After header)."
    )


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSchema, description=description)


ERROR_RESPONSES = {
    400: _error("Invalid input: malformed JSON or a field that breaks the schema; names the field."),
    401: _error("No valid API key (SEARCHOP_REQUIRE_API_KEY on)."),
    403: _error("No valid API key (SEARCHOP_REQUIRE_API_KEY on): missing, unknown, revoked or expired."),
    413: _error("The body is larger than SEARCHOP_MAX_BODY_BYTES."),
    406: _error("The Accept header rules out application/json."),
    411: _error("A chunked body without Content-Length: send the length."),
    415: _error("The body is not application/json."),
    429: _error("This key's requests per minute are used up; retry after retry_after_seconds."),
}
MACHINE_DESCRIPTION = (
    "Needs the header `Authorization: Api-Key <key>` (keys are managed in the admin) unless "
    "SEARCHOP_REQUIRE_API_KEY is off; throttled per key."
)
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


class ModelUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "model_unavailable"


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


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_code = "length_required"


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
            503: _error("The worker is still loading its first model; retry shortly."),
        },
        examples=[RANK_EXAMPLE],
    )
    def post(self, request):
        started = time.perf_counter()
        data = request.data
        parsed = time.perf_counter()
        try:
            rank_request = rank_request_validate(data)
        except RankInputError as error:
            observability.RANK_REJECTED.labels(status=str(error.status)).inc()
            raise InvalidInput([{"field": error.field, "problem": error.problem}], error.status) from error
        validated = time.perf_counter()
        try:
            state = serving_state_get()
        except ServingUnavailable as error:
            raise ModelUnavailable(f"model: {error}; retry shortly") from error
        result = rank_run(state, rank_request)
        request_id = uuid.uuid4().hex
        log_started = time.perf_counter()
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
        logged = time.perf_counter()
        body = response_build(request=rank_request, result=result, state=state, request_id=request_id)
        finished = time.perf_counter()
        timings = {
            "parse": parsed - started,
            "validate": validated - parsed,
            **result.timings,
            "log": logged - log_started,
            "respond": finished - logged,
        }
        step_metrics_observe(timings)
        version_label = str(state.model_version) if not state.fallback else "fallback"
        observability.rank_latency(version_label).observe(finished - started)
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
    @extend_schema_serializer(component_name="Event")
    class EventInput(serializers.Serializer):
        event_id = serializers.UUIDField()
        event_type = serializers.ChoiceField(choices=[choice.value for choice in EventType])
        product_id = ExternalIdField(
            max_length=128, help_text="The product's external_id; one the catalog does not know is kept."
        )
        request_id = TextField(
            max_length=64,
            required=False,
            allow_blank=True,
            default="",
            help_text="The request_id /api/rank returned with the list.",
        )
        position = serializers.IntegerField(
            min_value=1,
            max_value=32767,
            required=False,
            allow_null=True,
            help_text="1-based position in the list; required for an impression.",
        )
        timestamp = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")
        query = TextField(max_length=512, required=False, allow_blank=True, allow_null=True)
        user_id = TextField(max_length=128, required=False, allow_blank=True, allow_null=True)
        session_id = TextField(max_length=128, required=False, allow_blank=True, allow_null=True)

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
        responses={200: OpenApiResponse(BatchOutput, description="Stored."), **ERROR_RESPONSES},
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


def _readiness(name: str, status: str) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "status": serializers.CharField(help_text=f'"{status}".'),
            "database": serializers.CharField(help_text='"ok" or "error: <why>".'),
            "model_version": serializers.IntegerField(
                min_value=1, allow_null=True, help_text="The production version served; null: none."
            ),
            "fallback": serializers.BooleanField(
                allow_null=True, help_text="Whether the BM25 fallback serves; null while loading."
            ),
            "reason": serializers.CharField(allow_null=True, help_text="What serves, or why not."),
        },
    )


class ReadyView(APIView):
    """Readiness: the database answers and a model is loaded, or the fallback is active."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="ready",
        summary="Readiness: 503 until the database answers and a model (or the fallback) is loaded",
        tags=["ops"],
        auth=[],
        responses={
            200: OpenApiResponse(_readiness("Ready", "ready"), description="Ready to rank."),
            503: OpenApiResponse(
                _readiness("NotReady", "unavailable"),
                description="The database does not answer, or the model is still loading.",
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
