"""App-wide error pages: JSON under /api, plain pages elsewhere, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db

log = logging.getLogger("ruta")


def _is_api() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        if _is_api():
            from app.api.errors import http_error as api_http_error

            return api_http_error(error)
        from app.web_helpers import html_error

        return html_error(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[str, int]:
        db.session.rollback()
        # The type and path only: exception text can carry data from the request.
        log.error(
            "unhandled %s on %s %s",
            type(error).__name__,
            request.method,
            request.path,
            exc_info=app.debug,
        )
        if _is_api():
            from app.api.errors import error_response

            return error_response(500, "server_error", "Unexpected error; it has been logged.")
        from app.web_helpers import html_error

        return html_error(InternalServerError())
