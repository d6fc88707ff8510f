"""The record's life: who is responsible for it, its corrections, merges, and the
tokens that let a partial or misspelt name be found without storing the name.

Old and new values of a correction, its reason, and a merge's reason are ciphertext
under the case's data key; the plain columns say only what changed and when.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base


class CaseAssignment(Base):
    """The one worker of a party institution responsible for the case there."""

    __tablename__ = "case_assignments"
    __table_args__ = (
        UniqueConstraint("case_id", "institution_id", name="uq_case_assignments_case_institution"),
        Index("ix_case_assignments_institution_user", "institution_id", "user_id"),
        # The work list: each case's responsible in one institution (migration 0013).
        Index("ix_case_assignments_institution_case", "institution_id", "case_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    # NULL: the institution takes part, nobody has taken the case yet.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Correction(Base):
    """One correction of the survivor, an incident or a complaint: who, when, why, and
    the old and new values (`changes_enc`: JSON {field: [old, new]}, sealed)."""

    __tablename__ = "corrections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(36))
    # Field names only (comma-separated): which parts changed, never their values.
    fields: Mapped[str] = mapped_column(String(300))
    changes_enc: Mapped[bytes] = mapped_column(LargeBinary)
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseMerge(Base):
    """Two records of one woman made one: asked by a party of both, approved by a
    supervisor, reversible for 30 days (`moved` lists the rows that moved, by table)."""

    __tablename__ = "case_merges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    surviving_case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    absorbed_case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    # pending → approved → reverted; pending → rejected.
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moved: Mapped[str | None] = mapped_column(Text)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SurvivorNameToken(Base):
    """A keyed blind index of the phonetic form of one word of her name: a misspelt
    or partial name finds candidates, which are decrypted and ranked before showing."""

    __tablename__ = "survivor_name_tokens"
    __table_args__ = (Index("ix_survivor_name_tokens_token", "token", "survivor_id"),)

    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survivors.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), primary_key=True)
