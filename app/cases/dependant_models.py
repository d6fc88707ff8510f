"""Her children and dependants: people linked to her record, not records of their own.

Their names and birth year are sealed with the case's data key, like her identity; the
plain columns hold only what statistics and the mandatory-report rule need (age group,
relationship, whether they live with her, witnessed or suffered violence).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, Integer, LargeBinary, String, Table, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base

if TYPE_CHECKING:
    from app.cases.legal_models import ProtectionMeasure
    from app.cases.models import Incident

RELATIONSHIPS = ("son", "daughter", "other")
# Witnessed or suffered violence: `unknown` is an answer, not a missing one.
EXPOSURE = ("yes", "no", "unknown")

# The incidents where the dependant was present (optional).
dependant_incidents = Table(
    "dependant_incidents",
    Base.metadata,
    Column("dependant_id", ForeignKey("dependants.id"), primary_key=True),
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
)


class Dependant(Base):
    __tablename__ = "dependants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    given_names_enc: Mapped[bytes] = mapped_column(LargeBinary)
    family_names_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_year_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Plain, for statistics only (DOMAIN.md's age groups), as of the last write.
    age_group: Mapped[str | None] = mapped_column(String(6))
    relationship_to_her: Mapped[str] = mapped_column(String(10))
    lives_with_her: Mapped[bool | None] = mapped_column(Boolean)
    witnessed_violence: Mapped[str] = mapped_column(String(8), default="unknown")
    suffered_violence: Mapped[str] = mapped_column(String(8), default="unknown")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    incidents: Mapped[list[Incident]] = relationship(
        "Incident", secondary=dependant_incidents, lazy="selectin", viewonly=True
    )
    # The custody or maintenance measures that concern this child.
    measures: Mapped[list[ProtectionMeasure]] = relationship(
        "ProtectionMeasure",
        primaryjoin="foreign(ProtectionMeasure.dependant_id) == Dependant.id",
        lazy="selectin",
        viewonly=True,
    )

    # A PATCH from a stale read matches no row and raises (409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase
