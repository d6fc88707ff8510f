"""Every API error is `{"error": code, "message": text, "fields": {...}}`; never a 500 page."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.core.errorhandling import Face
from app.core.errors import DomainError
from app.core.transaction import mark_failed

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> Response:
    response = jsonify({"error": code, "message": message, "fields": fields or {}})
    response.status_code = status
    return response


def domain_error(error: DomainError) -> Response:
    response = error_response(error.status, error.code, error.message, error.fields)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(ValidationError)
def validation_error(error: ValidationError) -> Response:
    mark_failed()
    fields = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return error_response(422, "invalid", "The data is not valid.", fields)


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = error_response(status, HTTP_CODES.get(status, "error"), error.description or "")
    for name in ("Retry-After", "WWW-Authenticate", "Allow"):
        if error.get_response().headers.get(name):
            response.headers[name] = error.get_response().headers[name]
    return response


def signed_in_caller() -> Any | None:
    from app.api.helpers import api_caller

    return api_caller() if g.get("api_user") is not None else None


API = Face(
    owns=lambda: request.path.startswith("/api/"),
    http_error=http_error,
    domain_error=domain_error,
    caller=signed_in_caller,
)
