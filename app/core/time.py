"""Time as Ruta keeps it: UTC in the database, El Salvador's date for "today"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("America/El_Salvador")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    """Today's date where the network works; "not in the future" is judged by it."""
    return datetime.now(LOCAL_TZ).date()
