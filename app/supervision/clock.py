"""El Salvador's clock in SQL: the local day, hour and weekday of a stored moment, and
office hours, computed by the database so that reports group and count there."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Integer, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.core.time import LOCAL_TZ

OFFICE_OPENS = time(7, 0)
OFFICE_CLOSES = time(18, 0)

# Times are stored as naive UTC. PostgreSQL knows the zone by name; SQLite has no zone
# database, so it gets the zone's offset, which is fixed: El Salvador has kept UTC-6 with
# no daylight saving since 1988.


def _sqlite_offset() -> str:
    offset = datetime.now(LOCAL_TZ).utcoffset() or timedelta(0)
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def _pg_local(compiler: Any, element: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(({column}) AT TIME ZONE 'UTC') AT TIME ZONE '{LOCAL_TZ.key}'"


class LocalDay(FunctionElement[date]):
    """The El Salvador date of a stored moment."""

    type = Date()
    inherit_cache = True


class LocalHour(FunctionElement[int]):
    """The El Salvador hour (0-23) of a stored moment."""

    type = Integer()
    inherit_cache = True


class LocalWeekday(FunctionElement[int]):
    """The El Salvador weekday of a stored moment: 0 is Sunday, 6 Saturday."""

    type = Integer()
    inherit_cache = True


@compiles(LocalDay)
def _day_sqlite(element: LocalDay, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '{_sqlite_offset()}')"


@compiles(LocalHour)
def _hour_sqlite(element: LocalHour, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%H', {column}, '{_sqlite_offset()}') AS INTEGER)"


@compiles(LocalWeekday)
def _weekday_sqlite(element: LocalWeekday, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%w', {column}, '{_sqlite_offset()}') AS INTEGER)"


@compiles(LocalDay, "postgresql")
def _day_pg(element: LocalDay, compiler: Any, **kw: Any) -> str:
    return f"CAST({_pg_local(compiler, element, **kw)} AS DATE)"


@compiles(LocalHour, "postgresql")
def _hour_pg(element: LocalHour, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(HOUR FROM {_pg_local(compiler, element, **kw)}) AS INTEGER)"


@compiles(LocalWeekday, "postgresql")
def _weekday_pg(element: LocalWeekday, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(DOW FROM {_pg_local(compiler, element, **kw)}) AS INTEGER)"


def outside_office_hours(moment: Any) -> Any:
    """SQL: before 7:00, from 18:00 on, or at a weekend, El Salvador time."""
    hour, weekday = LocalHour(moment), LocalWeekday(moment)
    return or_(hour < OFFICE_OPENS.hour, hour >= OFFICE_CLOSES.hour, weekday.in_((0, 6)))
