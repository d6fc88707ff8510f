"""What the institutions record on a case: care notes, follow-ups, risk, safety plan,
attachments and status changes. Free text is ciphertext under the case's data key."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.directory.models import Institution
from app.extensions import Base


class CareNote(Base):
    __tablename__ = "care_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    given_on: Mapped[date] = mapped_column(Date)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Readable only by the writing institution (e.g. psychological notes); other parties
    # see that the note exists, not its text.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_institution_due", "institution_id", "done_on", "due_on"),
        Index("ix_follow_ups_due_case", "due_on", "case_id", "done_on"),  # statistics
        # Each case's next pending contact, for the work list (migration 0013).
        Index(
            "ix_follow_ups_pending",
            "institution_id",
            "case_id",
            "due_on",
            "done_on",
            postgresql_where=text("done_on IS NULL"),
            sqlite_where=text("done_on IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class RiskAssessment(Base):
    __tablename__ = "risk_assessments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The 24 answers reveal health, pregnancy and threats: ciphertext (JSON inside).
    answers_enc: Mapped[bytes] = mapped_column(LargeBinary)
    score: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(String(10))
    judgement_high: Mapped[bool] = mapped_column(Boolean, default=False)
    judgement_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Why the level is what it is (codes: strangulation, firearm, score…), and the
    # reason given, sealed, when it lowers a case from high.
    reasons: Mapped[str | None] = mapped_column(String(160))
    lowering_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)


class SafetyPlan(Base):
    """One per case, edited in place; the version column stops lost updates."""

    __tablename__ = "safety_plans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), unique=True)
    plan_enc: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    description_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    # Random file name in RUTA_ATTACHMENTS_DIR; the file holds only ciphertext.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)


class CaseStatusChange(Base):
    __tablename__ = "case_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(30))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)
