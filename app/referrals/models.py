"""The directory of services the institutions of the network give."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

institution_services = Table(
    "institution_services",
    db.metadata,
    Column("institution_id", ForeignKey("institutions.id"), primary_key=True),
    Column("service_code", ForeignKey("services.code"), primary_key=True),
)


class Service(db.Model):
    """Configurable: seeded from DOMAIN.md, extended by administrators."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_es: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
