"""What the network is made of: territory, institutions, the services they give and the
protection measures courts order. Configurable catalogues, seeded by `catalogue load`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import UTCDateTime
from app.core.time import utcnow
from app.extensions import Base

INSTITUTION_KINDS = (
    "pnc_family_unit",
    "health_unit",
    "womens_office",
    "prosecutor",
    "court",
    "legal_aid",
    "forensic",
    "shelter",
    "coordination",
    "system",
)


class Municipality(Base):
    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(40), index=True)


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(30))
    municipality: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    hours: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Loaded only where the directory is shown: every login joins its institution.
    services: Mapped[list[Service]] = relationship(
        secondary="institution_services", order_by="Service.code", lazy="select"
    )


institution_services = Table(
    "institution_services",
    Base.metadata,
    Column("institution_id", ForeignKey("institutions.id"), primary_key=True),
    Column("service_code", ForeignKey("services.code"), primary_key=True),
)


class Service(Base):
    """Configurable: seeded from DOMAIN.md, extended by administrators."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_es: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MeasureType(Base):
    """Configurable catalogue (Ley contra la Violencia Intrafamiliar, art. 7)."""

    __tablename__ = "measure_types"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name_es: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
