"""One transaction per request, owned by the face, not by the views.

A view that returns normally has its work committed here, after the view and before a
byte of the answer leaves: so a read's audit event is on the record before its data is
sent, and a commit that fails turns into an error page instead of an answer. Any error
handler marks the request failed (after rolling back) and nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, g

from app.extensions import db


def mark_failed() -> None:
    """Roll back what the request did; the error handler answers, nothing is committed."""
    db.session.rollback()
    g.transaction_failed = True


def commit_unless_failed(response: Response) -> Response:
    if g.get("transaction_failed"):
        return response
    try:
        db.session.commit()
    except Exception:
        mark_failed()  # the error page follows; this hook must not commit it again
        raise
    return response


def register_transaction(app: Flask, after_commit: Callable[[], None] | None = None) -> None:
    """`after_commit` runs once the request's transaction is over (committed, or rolled
    back with what the error handlers kept) and must not raise: the answer is decided."""

    def commit_then_follow_up(response: Response) -> Response:
        response = commit_unless_failed(response)
        if after_commit is not None:
            after_commit()
        return response

    app.after_request(commit_then_follow_up)


def discard_changes() -> None:
    """Undo what a refused form did, and go on: the page shown again is still answered
    (and its read audited) in the same request."""
    db.session.rollback()


def record_despite_failure(record: Callable[[], object]) -> None:
    """Roll back the request's work, then keep `record` (a failed login, a refusal) in a
    transaction of its own: the error that follows must not take it away."""
    db.session.rollback()
    record()
    db.session.commit()
