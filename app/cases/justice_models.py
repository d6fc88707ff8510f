"""The justice pathway of a denuncia: its moves, its hearings, and her choice to read the
date of her next hearing in her status lookup."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base


class ComplaintMove(Base):
    """One move of a complaint along the pathway; the rows are its history."""

    __tablename__ = "complaint_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    moved_on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))


class Hearing(Base):
    __tablename__ = "hearings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    court_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(12))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed with the case key
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class HearingNotice(Base):
    """Her choice to read her next hearing's date and time in the status lookup; each
    recording is a new row (who, when), the newest in force, like her consent."""

    __tablename__ = "hearing_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    show_hearings_in_status: Mapped[bool] = mapped_column(Boolean)
    given_by: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
