"""Small pieces every feature package uses: time, ids, column types and domain errors."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.types import TypeDecorator

LOCAL_TZ = ZoneInfo("America/El_Salvador")

# What services take as their `session` argument: a plain Session (scripts, tests) or
# Flask-SQLAlchemy's request-scoped `db.session`, which proxies the same methods.
DbSession: TypeAlias = Session | scoped_session[Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    """Today's date where the network works; "not in the future" is judged by it."""
    return datetime.now(LOCAL_TZ).date()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class DomainError(Exception):
    """Base of the errors services raise; routes turn them into HTTP answers."""

    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
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
