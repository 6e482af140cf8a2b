"""The API's schema for drf-spectacular: what ``/api/schema/`` and Swagger UI document.

Documentation only: ``/api/rank`` validates in one lean pass (``ranking.serving.validation``)
and ``/api/events`` with the serializers of its view; the limits below are the validators'.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

from ranking.experiments.arms import Arm
from ranking.models import ExperimentKind
from ranking.serving.validation import MAX_DESCRIPTION, MAX_ID_LENGTH, MAX_QUERY_LENGTH, MAX_SHORT_TEXT

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
    id = ExternalIdField(help_text='The id as it was sent: 1 in, 1 out; "1" in, "1" out.')
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


@extend_schema_serializer(component_name="RankExperiment")
class RankExperimentSchema(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, help_text="The running experiment (experiment_report --id).")
    kind = serializers.ChoiceField(choices=ExperimentKind.values)
    arm = serializers.ChoiceField(
        choices=[arm.value for arm in Arm],
        help_text=(
            "What answered: control (A/B: the control's order), challenger (A/B: the challenger's "
            "order), interleaved (the team draft of both), shadow (the control's order; the "
            "challenger's was recorded beside it). A challenger that failed leaves the arm as it "
            "is, and the control answers."
        ),
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
        min_value=1,
        allow_null=True,
        help_text=(
            "The control's model version: production's outside experiments, and inside one too "
            "whichever arm answered (it is the experiment's control). null when the BM25 fallback "
            "answered or the experiment's control is a baseline."
        ),
    )
    fallback = serializers.BooleanField()
    fallback_reason = serializers.CharField(required=False, help_text="Only with fallback: why.")
    experiment = RankExperimentSchema(
        allow_null=True,
        help_text="The experiment and arm that served this search; null outside experiments.",
    )


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


def error_schema(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSchema, description=description)


ERROR_RESPONSES = {
    400: error_schema("Invalid input: malformed JSON or a field that breaks the schema; names the field."),
    401: error_schema("No valid API key (SEARCHOP_REQUIRE_API_KEY on)."),
    403: error_schema(
        "No valid API key (SEARCHOP_REQUIRE_API_KEY on): missing, unknown, revoked or expired."
    ),
    413: error_schema("The body is larger than SEARCHOP_MAX_BODY_BYTES."),
    406: error_schema("The Accept header rules out application/json."),
    411: error_schema("A chunked body without Content-Length: send the length."),
    415: error_schema("The body is not application/json."),
    429: error_schema("This key's requests per minute are used up; retry after retry_after_seconds."),
}
MACHINE_DESCRIPTION = (
    "Needs the header `Authorization: Api-Key <key>` (keys are managed in the admin) unless "
    "SEARCHOP_REQUIRE_API_KEY is off; throttled per key."
)
# Two products of the demo catalog (the synthetic shop with its default seed makes them with
# these ids and titles: tests/unit/test_api_schema_examples.py checks) and one it does not know,
# a cold start scored with the attributes the request sends.
RANK_EXAMPLE = OpenApiExample(
    "Two products of the demo catalog and a new one",
    description=(
        "P00869 and P00012 exist in the demo catalog (`run.py demo`), which scores them with its "
        "own attributes; new-1 is a cold-start product the catalog does not know, scored with "
        "the attributes sent here."
    ),
    value={
        "query": "red running shoes",
        "user_id": "U0001",
        "products": [
            {
                "id": "P00869",
                "title": "Nike Aero 765 Red Running Shoes",
                "price": 123.99,
                "category": "Running Shoes",
                "rating": 4.2,
            },
            {
                "id": "P00012",
                "title": "Puma One 874 White Waterproof Red Running Shoes",
                "price": 87.99,
                "category": "Running Shoes",
                "rating": 4.1,
            },
            {"id": "new-1", "title": "Red Trail Running Shoes", "price": 95.0, "category": "Running Shoes"},
        ],
        "limit": 10,
    },
    request_only=True,
)


def readiness_schema(name: str, status: str) -> serializers.Serializer:
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
