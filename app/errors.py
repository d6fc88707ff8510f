"""App-wide error pages: JSON under /api, plain pages elsewhere, never a stack trace."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError

from app.common import DomainError
from app.extensions import db

log = logging.getLogger("ruta")


def _is_api() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response | tuple[str, int]:
        log.warning("refused %s %s: %s", request.method, request.path, error.description)
        return http_error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        if _is_api():
            from app.api.errors import http_error as api_http_error

            return api_http_error(error)
        from app.web_helpers import html_error

        return html_error(error)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response | tuple[str, int]:
        # A page asked for something a service refused (not found, not allowed…).
        db.session.rollback()
        if _is_api():
            from app.api.errors import domain_error as api_domain_error

            return api_domain_error(error)
        from werkzeug.exceptions import default_exceptions

        from app.web_helpers import html_error

        return html_error(default_exceptions.get(error.status, InternalServerError)())

    @app.errorhandler(StaleDataError)
    def lost_race(error: StaleDataError) -> Response | tuple[str, int]:
        # Optimistic locking: someone else changed the row first. Nothing was saved.
        db.session.rollback()
        if _is_api():
            from app.api.errors import error_response

            return error_response(409, "conflict", "The record changed meanwhile; reload it.")
        from app.web_helpers import html_error

        return html_error(Conflict())

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[str, int]:
        db.session.rollback()
        # Where it failed, without the exception's text: that text can carry request
        # data (SQL parameters, field values), and logs must never hold case content.
        log.error(
            "unhandled %s on %s %s\n%s",
            type(error).__name__,
            request.method,
            request.path,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        if _is_api():
            from app.api.errors import error_response

            return error_response(500, "server_error", "Unexpected error; it has been logged.")
        from app.web_helpers import html_error

        return html_error(InternalServerError())
