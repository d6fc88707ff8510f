"""One set of error handlers for the whole app; each face says how it answers.

Every error rolls the request back (nothing it did is committed), is answered by the
face the request belongs to (JSON under /api, a page elsewhere) and never shows a stack
trace. Two hooks, given by the factory, keep what must survive the rollback: the refusal
of a case-scoped URL (`access_denied`) and the report of an identity conflict.
When what the request needs is down (the database, the attachment store) the answer is
503 with Retry-After; a transaction the database chose to lose (deadlock) is a 409.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError

from app.core.errors import DomainError, Unavailable
from app.core.http import mark_read_for_retry
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
        original = getattr(error, "original_exception", None)
        if isinstance(original, DEPENDENCY_DOWN):  # raised by the commit, after the view
            return dependency_down(original)
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

    @app.errorhandler(Unavailable)
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OSError)
    def dependency_down(error: Exception) -> ResponseReturnValue:
        if sqlstate := _lost_to_another_transaction(error):
            mark_failed()
            # Rare once locks are taken in one order (referral, case, parties): worth a line.
            log.warning("lost a race on %s %s: SQLSTATE %s", request.method, request.path, sqlstate)
            return face().http_error(Conflict("The record changed meanwhile; reload it."))
        if isinstance(error, OSError):
            # A disk or a socket failed where no service said what it was: where, too.
            log.error(
                "%s on %s %s\n%s",
                type(error).__name__,
                request.method,
                request.path,
                "".join(traceback.format_tb(error.__traceback__)),
            )
        if mark_read_for_retry(request.environ, _connection_dropped(error)):
            mark_failed()
            log.warning("dropped connection: %s %s tried again", request.method, request.path)
        if not isinstance(error, Unavailable):
            error = Unavailable(UNAVAILABLE, {"cause": type(error).__name__})
        return answer_unavailable(app, face(), error)

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


# What a request needs from outside the process; when it fails, the answer is 503.
DEPENDENCY_DOWN = (OperationalError, InterfaceError, PoolTimeout, OSError, Unavailable)
UNAVAILABLE = "The service is unavailable for a moment; try again shortly."


def _connection_dropped(error: Exception) -> bool:
    return bool(getattr(error, "connection_invalidated", False))


def _lost_to_another_transaction(error: Exception) -> str | None:
    """The SQLSTATE of class 40 (40P01 a deadlock, 40001 a serialisation failure): the
    database chose this transaction to lose a race and rolled it back. The answer is a
    conflict, not an outage."""
    sqlstate = str(getattr(getattr(error, "orig", None), "sqlstate", "") or "")
    return sqlstate if sqlstate.startswith("40") else None


def answer_unavailable(app: Flask, face: Face, error: Unavailable) -> ResponseReturnValue:
    """503 with Retry-After, from either face. No caller is looked up and no refusal
    recorded: both would need the database that may be what is missing."""
    try:
        mark_failed()
    except SQLAlchemyError:  # the database that failed can fail the rollback too
        g.transaction_failed = True  # still: nothing is committed after this
    # The kind of failure only: the exception's text can carry SQL and its parameters.
    cause = error.fields.get("cause") or error.message
    log.warning("unavailable on %s %s: %s", request.method, request.path, cause)
    answer = Unavailable(UNAVAILABLE)  # the client learns neither the cause nor the store
    response = app.make_response(face.domain_error(answer))
    response.headers["Retry-After"] = str(error.retry_after)
    return response
