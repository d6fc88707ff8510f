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


# The territory since 1 May 2024 (Decreto 762): 14 departments, 44 municipalities, 262
# districts, shipped as data (`data/territory_2024.csv`, loaded by `catalogue load`).


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO 3166-2:SV, "SO"
    name: Mapped[str] = mapped_column(String(80))
    # The start of the case numbers of the institutions of the department: SON-2026-000123.
    case_prefix: Mapped[str] = mapped_column(String(8), unique=True)


class Municipality2024(Base):
    """One of the 44 municipalities of 2024 ("Sonsonate Centro")."""

    __tablename__ = "municipalities_2024"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # "SO-CENTRO"
    name: Mapped[str] = mapped_column(String(80))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)


class District(Base):
    """A district of the 2024 map: one of the 262 former municipalities, under its old
    table and codes so that every survivor, incident and institution row stays valid."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(40), index=True)  # a Department code
    # No foreign keys on these added columns: SQLite cannot rebuild a table others
    # point at (see migration 0012); the catalogue loader keeps them consistent.
    municipality_2024: Mapped[str | None] = mapped_column(String(20), index=True)
    aliases: Mapped[str | None] = mapped_column(String(200))  # other names, "|" between


# The name the rest of the code has always used for the districts' table.
Municipality = District


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
