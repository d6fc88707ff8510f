"""The typed errors services raise; each face turns them into its own answer."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext


class DomainError(Exception):
    """Base of the errors services raise; routes turn them into HTTP answers.

    `message` is said in the language of the request (Spanish for the API and the CLI):
    a Spanish text kept in a constant (marked with `N_`) is translated here, one already
    translated where it was raised goes through unchanged. `code` never changes."""

    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        said = gettext(str(message))
        super().__init__(said)
        self.message = said
        self.fields = fields or {}


class InvalidInput(DomainError):
    code = "invalid"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Unavailable(DomainError):
    """Something the request needs (the database, the attachment store) cannot be
    reached right now: 503 with Retry-After, nothing saved, the client may try again."""

    code = "unavailable"
    status = 503
    retry_after = 30  # seconds: a restart or a failover, not a lasting outage


class CaseClosed(Conflict):
    """A write to a closed case: it is read-only until someone reopens it with a reason."""

    code = "case_closed"

    def __init__(self) -> None:
        super().__init__(gettext("El caso está cerrado: reábralo para añadir información."))


class CasePurged(Conflict):
    """The record's data key was destroyed at the end of its retention period (or on her
    erasure request): its number and dates remain, nothing of it can be read or added."""

    code = "case_purged"

    def __init__(self) -> None:
        super().__init__(gettext("Expediente depurado: sus datos ya no se pueden leer."))
