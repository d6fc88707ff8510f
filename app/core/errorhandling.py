"""One set of error handlers for the whole app; each face says how it answers.

Every error rolls the request back (nothing it did is committed), is answered by the
face the request belongs to (JSON under /api, a page elsewhere) and never shows a stack
trace. Two hooks, given by the factory, keep what must survive the rollback: the refusal
of a case-scoped URL (`access_denied`) and the report of an identity conflict.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError

from app.core.errors import DomainError
from app.core.transaction import mark_failed, record_despite_failure

log = logging.getLogger("ruta")


@dataclass(frozen=True)
class Face:
    """How one face answers errors, and who is signed in to it."""

    owns: Callable[[], bool]  # does the current request belong to this face?
    http_error: Callable[[HTTPException], ResponseReturnValue]
    domain_error: Callable[[DomainError], ResponseReturnValue]
    caller: Callable[[], Any | None]


# (caller, URL arguments, status, endpoint) → write the refusal's audit row, or nothing.
RefusalHook = Callable[[Any, dict[str, Any], int, str | None], Callable[[], object] | None]
# (caller, error) → write what the error must leave behind, or nothing.
ErrorHook = Callable[[Any, DomainError], Callable[[], object] | None]


def register_error_handlers(
    app: Flask, faces: Sequence[Face], on_refusal: RefusalHook, on_domain_error: ErrorHook
) -> None:
    def face() -> Face:
        return next((each for each in faces if each.owns()), faces[-1])

    def keep(record: Callable[[], object] | None) -> None:
        if record is not None:
            record_despite_failure(record)

    def refused(status: int) -> None:
        caller = face().caller() if status in (403, 404) else None
        if caller is not None:
            keep(on_refusal(caller, request.view_args or {}, status, request.endpoint))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        mark_failed()
        refused(error.code or 500)
        return face().http_error(error)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> ResponseReturnValue:
        mark_failed()
        refused(error.status)
        caller = face().caller()
        if caller is not None:
            keep(on_domain_error(caller, error))
        return face().domain_error(error)

    @app.errorhandler(StaleDataError)
    def lost_race(error: StaleDataError) -> ResponseReturnValue:
        # Optimistic locking: someone else changed the row first. Nothing was saved.
        mark_failed()
        return face().http_error(Conflict("The record changed meanwhile; reload it."))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
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
        return face().http_error(InternalServerError("Unexpected error; it has been logged."))
