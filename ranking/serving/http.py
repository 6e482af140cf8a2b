"""HTTP plumbing of the API: a bounded, fast JSON parser, a fast renderer and the error
handler that gives every refusal one shape. Kept apart from the views because DRF's
settings import these classes while ``rest_framework.views`` is still loading."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from django.conf import settings
from rest_framework import exceptions, parsers, renderers, status

# A body over the limit is still read, and dropped, up to this size before the 413 is sent.
DISCARD_LIMIT_BYTES = 64 * 1024 * 1024
DISCARD_CHUNK_BYTES = 256 * 1024

# ---------------------------------------------------------------------------------------


class InvalidInput(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"

    def __init__(self, errors: list[dict[str, str]], status_code: int = 400):
        self.errors = errors
        self.status_code = status_code
        super().__init__(detail="; ".join(f"{e['field']}: {e['problem']}" for e in errors))


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"


class ModelUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "model_unavailable"


class BoundedJSONParser(parsers.BaseParser):
    """JSON with a size limit (DRF reads the stream itself and ignores Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``), parsed by orjson. A body orjson refuses only for an
    out-of-range number (``1e400``) or a NaN literal is parsed again by the standard
    library, so that validation can name the field that holds it."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.SEARCHOP_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(stream, limit, int(declared))
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:  # no declared length: there is no telling how much more follows
            raise BodyTooLarge(f"body: larger than the limit of {limit} bytes")
        if not body:
            raise exceptions.ParseError("body: empty; a JSON object is expected")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                raise exceptions.ParseError(f"body: malformed JSON: {error}") from error
            # orjson also refuses a lone surrogate ("\ud800"), which the standard library
            # accepts; such a string can be neither stored nor rendered back, so refuse it here.
            try:
                json.dumps(data, ensure_ascii=False).encode()
            except UnicodeEncodeError:
                raise exceptions.ParseError(
                    "body: a string holds a lone UTF-16 surrogate, which is not Unicode text"
                ) from error
            return data


def _too_large(stream, limit: int, declared: int) -> BodyTooLarge:
    """The 413, once the rest of the body (up to ``DISCARD_LIMIT_BYTES``) is read and dropped:
    a server that answers and closes while the client is still sending resets the
    connection, and clients that write the whole body before reading (Python's urllib and
    requests) then see the reset instead of the answer. Beyond the bound the server answers
    without reading (and closes)."""
    if stream is not None and declared <= DISCARD_LIMIT_BYTES:
        read = 0  # the stream ends at the declared length (Django's LimitedStream)
        while read <= DISCARD_LIMIT_BYTES and (chunk := stream.read(DISCARD_CHUNK_BYTES)):
            read += len(chunk)
    return BodyTooLarge(f"body: larger than the limit of {limit} bytes")


class FastJSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def api_exception_handler(exc, context):
    """DRF's handler, with every error body in the one ``{error, detail, errors}`` shape."""
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, InvalidInput):
        errors = exc.errors
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
    else:
        detail = str(getattr(exc, "detail", exc))
        field, _, problem = detail.partition(": ")
        errors = (
            [{"field": field, "problem": problem}]
            if problem and " " not in field
            else [{"field": "request", "problem": detail}]
        )
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid_request"
    body: dict[str, Any] = {
        "error": code,
        "detail": "; ".join(f"{e['field']}: {e['problem']}" for e in errors),
        "errors": errors,
    }
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after_seconds"] = math.ceil(exc.wait)
    response.data = body
    return response


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error structure as ``[{field: "events[2].position", problem}]``."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                name = f"{prefix}[{key}]"  # ListField reports items by index
            elif key == "non_field_errors":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name or "body"))
        return out
    if isinstance(detail, list):
        if detail and all(isinstance(item, str) for item in detail):
            return [{"field": prefix or "body", "problem": str(item)} for item in detail]
        out = []
        for i, item in enumerate(detail):
            if item:
                out.extend(_flatten(item, f"{prefix}[{i}]"))
        return out
    return [{"field": prefix or "body", "problem": str(detail)}]
