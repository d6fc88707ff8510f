"""The denuncia (PNC only) and the protection measures requested and granted."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.directory.models import Institution
from app.extensions import Base

complaint_incidents = Table(
    "complaint_incidents",
    Base.metadata,
    Column("complaint_id", ForeignKey("complaints.id"), primary_key=True),
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
)


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Sealed with the case's data key, like every free text of the case. Always set;
    # nullable because SQLite cannot add a NOT NULL column to a table others point at.
    number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The prosecutor's and the court's own file numbers, sealed like the number.
    fgr_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    court_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    filed_on: Mapped[date] = mapped_column(Date)
    forward_to_prosecutor: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="received")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)
    measures: Mapped[list[ProtectionMeasure]] = relationship(
        order_by="ProtectionMeasure.created_at", lazy="selectin", back_populates="complaint"
    )
    incident_ids: Mapped[list[Any]] = relationship(
        "Incident", secondary=complaint_incidents, lazy="selectin", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class ProtectionMeasure(Base):
    __tablename__ = "protection_measures"
    __table_args__ = (
        Index("ix_protection_measures_status_ends", "status", "ends_on"),
        Index("ix_protection_measures_breached_at", "breached_at"),
        Index("ix_protection_measures_case_status", "case_id", "status"),  # migration 0030
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    measure: Mapped[str] = mapped_column(ForeignKey("measure_types.code"))
    requested: Mapped[bool] = mapped_column(Boolean, default=True)
    granted: Mapped[bool] = mapped_column(Boolean, default=False)
    court_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed like the number
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="requested")
    # The aggressor it is against (app/cases/aggressor_models.py), of the same case; the
    # service checks that, so no foreign key (migration 0026 adds it to a live table).
    aggressor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The child a custody, visits or maintenance measure concerns (migration 0027; no
    # foreign key: SQLite cannot rebuild a table others point at).
    dependant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The breach fast lane (app/cases/breach.py): the last time it was marked breached,
    # and by which user (no foreign key: migration 0024 adds it without a table copy).
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_by: Mapped[int | None] = mapped_column(Integer)
    # The week-before-expiry notice went out (app/cases/measure_notices.py), once.
    expiry_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship(back_populates="measures", lazy="raise")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase
