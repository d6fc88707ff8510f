"""Referrals between the institutions of the network, and their events."""

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
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.dependant_models import Dependant
from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.directory.models import Institution
from app.extensions import Base


class Referral(Base):
    """A case sent from one institution to another for one service, tracked to its end."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_to_status", "to_institution_id", "status"),
        Index("ix_referrals_from_status", "from_institution_id", "status"),
        Index("ix_referrals_status_due", "status", "due_on"),
        # The network indicators, from the index alone (migration 0030).
        Index(
            "ix_referrals_sent_statistics",
            *("created_at", "case_id", "service", "to_institution_id", "status", "due_on"),
            *("closed_at", "id"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    from_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    to_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    service: Mapped[str] = mapped_column(ForeignKey("services.code"))
    urgency: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="sent")
    due_on: Mapped[date] = mapped_column(Date)
    consent: Mapped[bool] = mapped_column(Boolean)
    # Sent without consent because the survivor is a minor (mandatory report).
    mandatory_report: Mapped[bool] = mapped_column(Boolean, default=False)
    # A referral for one of her children (migration 0027; no foreign key, as above).
    dependant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    decline_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The receiver has no users: the sender records what happened.
    tracked_by_sender: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    from_institution: Mapped[Institution] = relationship(
        foreign_keys=[from_institution_id], lazy="joined", innerjoin=True
    )
    to_institution: Mapped[Institution] = relationship(
        foreign_keys=[to_institution_id], lazy="joined", innerjoin=True
    )
    dependant: Mapped[Dependant | None] = relationship(
        primaryjoin="foreign(Referral.dependant_id) == Dependant.id", lazy="joined", viewonly=True
    )
    events: Mapped[list[ReferralEvent]] = relationship(
        order_by="ReferralEvent.id", lazy="raise", back_populates="referral"
    )

    # Two people acting on one referral at once: the second UPDATE matches no row.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class ReferralEvent(Base):
    """Each move of a referral: who, when, from which status to which."""

    __tablename__ = "referral_events"
    # When a referral was accepted, read from the index alone (statistics, migration 0005).
    __table_args__ = (Index("ix_referral_events_referral_action", "referral_id", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    referral: Mapped[Referral] = relationship(back_populates="events", lazy="raise")
    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)


class CaseTransfer(Base):
    """The lead institution of a case handed to another one: asked by the lead,
    answered by the target (`app/referrals/transfers.py`). The case keeps its number."""

    __tablename__ = "case_transfers"
    __table_args__ = (
        Index("ix_case_transfers_to_status", "to_institution_id", "status"),
        Index("ix_case_transfers_from_status", "from_institution_id", "status"),
        # One pending transfer per case, kept by the database when two leads race.
        Index(
            "uq_case_transfers_one_pending",
            "case_id",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    from_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    to_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    reason: Mapped[str] = mapped_column(String(24))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    decline_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="requested")
    # The target took part in the case already when it was asked (no consent gate then).
    target_was_party: Mapped[bool] = mapped_column(Boolean)
    # Asked without her consent to share: a minor's mandatory report (CONTRACT §5).
    mandatory_report: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    from_institution: Mapped[Institution] = relationship(
        foreign_keys=[from_institution_id], lazy="joined", innerjoin=True
    )
    to_institution: Mapped[Institution] = relationship(
        foreign_keys=[to_institution_id], lazy="joined", innerjoin=True
    )

    # Two answers at once: the second UPDATE matches no row (409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase
