"""The observatory's stored counts (`stored.py`): what changed, each month's
generation, and each published query's counts with the generations they were made from.

Nothing here holds a person's data: months, codes and counts only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.time import utcnow
from app.extensions import Base


class StatChange(Base):
    """A month whose counts a write may have changed. Written by database triggers
    (migration 0029) in the writer's own transaction, so no write can skip it; only
    appended, so writers never wait on one another here; consumed by the next count."""

    __tablename__ = "stat_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of an incident's occurred_on


class StatMonth(Base):
    """How many times a month's counts have changed since they were first stored."""

    __tablename__ = "stat_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class StatCount(Base):
    """One query's counts (period, unit, dimensions, district), unsuppressed, as JSON,
    and the generations of the period's months they were counted at."""

    __tablename__ = "stat_counts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    generations: Mapped[str] = mapped_column(String(120))
    counts: Mapped[str] = mapped_column(Text)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorChange(Base):
    """A month whose network indicators a write may have changed: the month a referral
    was sent, a follow-up fell due, a measure was breached or a rape was recorded.
    Written by triggers (migration 0031), as `StatChange`."""

    __tablename__ = "indicator_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))


class IndicatorMonth(Base):
    """How many times a month's indicators have changed since they were first stored."""

    __tablename__ = "indicator_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class StatRepeat(Base):
    """A case with two incidents or more dated in `year`: one the year's months may count
    more than once (migration 0032's trigger adds it; nothing removes it, so the table
    holds every such case and maybe some that no longer are)."""

    __tablename__ = "stat_repeats"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class StatSharedCode(Base):
    """A statistics code that two survivors' records or more hold (one woman, two
    records): her months may count her once per record. Kept by a trigger, as
    `StatRepeat`."""

    __tablename__ = "stat_shared_codes"

    stat_code: Mapped[str] = mapped_column(String(16), primary_key=True)
