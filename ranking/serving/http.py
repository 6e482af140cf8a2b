"""HTTP plumbing of the API: a bounded, fast JSON parser, a fast renderer, the error handler
that gives every refusal one shape, and the last resort that keeps any error on ``/api/``
in that shape. Kept apart from the views because DRF's settings import these classes while
``rest_framework.views`` is still loading.

Errors chosen on purpose: the database unreachable (``OperationalError``, ``InterfaceError``:
stopped, restarting, failing over, out of connections) is a 503 with ``Retry-After``, never a
500, so clients retry; anything else nothing answered is a JSON 500 with a request id that
names it in the log beside its traceback.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, parsers, renderers, status

logger = logging.getLogger(__name__)

# What a database outage raises (as opposed to a bug: ProgrammingError, IntegrityError, ...).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

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


class ServiceUnavailable(exceptions.APIException):
    """A 503 that says when to retry (``Retry-After``, and ``retry_after_seconds`` in the body)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"

    def __init__(self, detail: str, wait: float | None = None):
        super().__init__(detail)
        self.wait = wait if wait is not None else settings.SEARCHOP_RETRY_AFTER_SECONDS


class ModelUnavailable(ServiceUnavailable):
    default_code = "model_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    default_code = "database_unavailable"


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

    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable, answering 503: %s", str(exc).strip())
        exc = DatabaseUnavailable("database: unavailable; nothing was stored, retry shortly")
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
    wait = getattr(exc, "wait", None)
    if wait is not None:
        body["retry_after_seconds"] = math.ceil(wait)
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


class ApiErrorsAsJson:
    """The last resort for ``/api/``: an exception no handler answered becomes a JSON 500 with
    a request id (logged with the traceback, so the id finds it), and an error page Django
    would render as HTML (the 404 of an unknown path, a 500 from a middleware) the same JSON
    shape. Other paths (the admin) keep Django's pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            request_id = uuid.uuid4().hex
            if response.status_code >= 500:  # Django logged the traceback already
                logger.error("request %s on %s answered %s", request_id, request.path, response.status_code)
            status_code = response.status_code
            if status_code == 404:
                code, problem = "not_found", "no such endpoint"
            else:
                code = "internal_error" if status_code >= 500 else "error"
                problem = response.reason_phrase.lower()
            return error_response(status_code, code=code, problem=problem, request_id=request_id)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None
        request_id = uuid.uuid4().hex
        logger.error(
            "unhandled error (request %s) on %s %s",
            request_id,
            request.method,
            request.path,
            exc_info=exception,
        )
        return error_response(
            500,
            code="internal_error",
            problem=f"an internal error (request {request_id})",
            request_id=request_id,
        )


def error_response(status_code: int, *, code: str, problem: str, request_id: str) -> HttpResponse:
    """A response in the one error shape, outside DRF (middleware)."""
    body = {
        "error": code,
        "detail": f"request: {problem}",
        "errors": [{"field": "request", "problem": problem}],
        "request_id": request_id,
    }
    return HttpResponse(orjson.dumps(body), status=status_code, content_type="application/json")
