"""Wrapped data keys, the start-up canary, retention cohorts and sealed form stashes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base

# The `kek_id` of a destroyed data key: its `wrapped` is empty, nothing can open it.
PURGED_KEK_ID = "-"


class DataKey(Base):
    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # Which KEK (or retention cohort key, `c…`) wraps it: `keys rotate` re-wraps every
    # row under a KEK that is not the active one, and leaves cohort rows alone.
    kek_id: Mapped[str] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CryptoCanary(Base):
    """Known values made with the keys: a key file that cannot open them stops start-up."""

    __tablename__ = "crypto_canary"

    id: Mapped[int] = mapped_column(primary_key=True)
    kek_blob: Mapped[bytes] = mapped_column(LargeBinary)
    index_check: Mapped[str] = mapped_column(String(64))
    audit_check: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetentionCohort(Base):
    """A retention cohort key's life, without the key (which is only in the key file):
    the month its cases closed in, and when it was destroyed."""

    __tablename__ = "retention_cohorts"
    __table_args__ = (Index("ix_retention_cohorts_month", "month", "destroyed_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FormStash(Base):
    """A form that failed, or a slip's code and PIN, kept sealed for the next page only
    (app/crypto/stash.py): bound to one user's session (and case), read once, short-lived."""

    __tablename__ = "form_stashes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    user_session_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    purpose: Mapped[str] = mapped_column(String(40))
    kek_id: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
