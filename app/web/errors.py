"""App-wide error pages: JSON under /api, plain pages elsewhere, never a stack trace."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError

from app.core.errors import DomainError
from app.core.transaction import mark_failed, record_despite_failure
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
        mark_failed()
        record_refusal(error.code or 500)
        if _is_api():
            from app.api.errors import http_error as api_http_error

            return api_http_error(error)
        from app.web.helpers import html_error

        return html_error(error)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response | tuple[str, int]:
        # A page asked for something a service refused (not found, not allowed…).
        mark_failed()
        record_refusal(error.status)
        report_identity_conflict(error)
        if _is_api():
            from app.api.errors import domain_error as api_domain_error

            return api_domain_error(error)
        from werkzeug.exceptions import default_exceptions

        from app.web.helpers import html_error

        return html_error(default_exceptions.get(error.status, InternalServerError)())

    @app.errorhandler(StaleDataError)
    def lost_race(error: StaleDataError) -> Response | tuple[str, int]:
        # Optimistic locking: someone else changed the row first. Nothing was saved.
        mark_failed()
        if _is_api():
            from app.api.errors import error_response

            return error_response(409, "conflict", "The record changed meanwhile; reload it.")
        from app.web.helpers import html_error

        return html_error(Conflict())

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[str, int]:
        mark_failed()
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
        from app.web.helpers import html_error

        return html_error(InternalServerError())


# URL arguments that name a case or a referral: a refusal there is an `access_denied`.
CASE_SCOPED_ARGS = ("case_id", "referral_id")


def _caller() -> Any:
    """The signed-in caller of either face, or None."""
    if _is_api():
        from flask import g

        from app.api.helpers import api_caller

        return api_caller() if g.get("api_user") is not None else None
    from flask_login import current_user

    from app.web.formtools import web_caller

    return web_caller() if current_user.is_authenticated else None


def record_refusal(status: int) -> None:
    """A signed-in user refused a case-scoped URL leaves an `access_denied` event, kept
    in a transaction of its own (what the request did was rolled back)."""
    args = request.view_args or {}
    name = next((arg for arg in CASE_SCOPED_ARGS if arg in args), None)
    caller = _caller() if status in (403, 404) and name else None
    if caller is None or name is None:
        return
    from app.cases.service import record_refusal as refused
    from app.crypto.service import get_keyring

    what, which = name.removesuffix("_id"), str(args[name])
    detail = f"status={status};endpoint={request.endpoint}"
    record_despite_failure(lambda: refused(db.session, get_keyring(), caller, what, which, detail))


def report_identity_conflict(error: DomainError) -> None:
    from app.cases.service import IdentityConflict, report_identity_conflict
    from app.crypto.service import get_keyring

    caller = _caller()
    if isinstance(error, IdentityConflict) and caller is not None:
        record_despite_failure(
            lambda: report_identity_conflict(db.session, get_keyring(), caller, error.case_id)
        )
