"""The network directory: institutions, the services each gives, the territory and the
measure catalogue, as the faces list and administrators change them."""

from __future__ import annotations

from typing import Any, Protocol

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit.service import HasActor
from app.core.db import DbSession
from app.core.errors import NotFound
from app.crypto.blind_index import normalise_name
from app.directory import territory
from app.directory.cache import CATALOGUE
from app.directory.models import Institution, MeasureType, Service, institution_services


def list_institutions(session: DbSession) -> list[dict[str, Any]]:
    stmt = (
        select(Institution)
        .options(selectinload(Institution.services))
        .where(Institution.active.is_(True))
        .order_by(Institution.code)
    )
    return [
        {
            "id": inst.id,
            "code": inst.code,
            "name": inst.name,
            "kind": inst.kind,
            "municipality": inst.municipality,
            "address": inst.address,
            "phone": inst.phone,
            "hours": inst.hours,
            "services": [service.code for service in inst.services],
        }
        for inst in session.execute(stmt).scalars()
    ]


# ---- the administrators' pages ---------------------------------------------------------
# The blueprint lets only administrators in (`app.auth.policy.may_manage_users`); the
# directory sits below `auth` and cannot ask that policy itself.


def all_institutions(session: DbSession) -> list[Institution]:
    """Every institution, inactive ones too, with the services it gives."""
    stmt = (
        select(Institution).options(selectinload(Institution.services)).order_by(Institution.code)
    )
    return list(session.execute(stmt).scalars())


def get_institution(session: DbSession, institution_id: int) -> Institution:
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(gettext("Institución desconocida."))
    return institution


Choices = list[tuple[str, str]]


def institution_choices(session: DbSession) -> list[tuple[str, str]]:
    rows = session.execute(select(Institution.code, Institution.name).order_by(Institution.code))
    return [(code, f"{code} · {name}") for code, name in rows]


def service_choices(session: DbSession) -> list[tuple[str, str]]:
    def build() -> Choices:
        stmt = select(Service.code, Service.name_es).where(Service.active.is_(True))
        return [(code, name) for code, name in session.execute(stmt.order_by(Service.name_es))]

    return CATALOGUE.get(session, "services", build)


def receiver_choices(session: DbSession) -> list[tuple[str, str]]:
    """Institutions a case may be referred to, by id: the active ones of the network."""

    def build() -> Choices:
        stmt = (
            select(Institution.id, Institution.name)
            .where(Institution.active.is_(True), Institution.kind != "system")
            .order_by(Institution.name)
        )
        return [(str(institution_id), name) for institution_id, name in session.execute(stmt)]

    return CATALOGUE.get(session, "receivers", build)


def municipality_choices(session: DbSession) -> list[tuple[str, str]]:
    """The districts by name (the former municipalities); a shared name says its department."""

    def build() -> Choices:
        names = territory.district_names(session)
        return sorted(names.items(), key=lambda item: (normalise_name(item[1]), item[0]))

    return CATALOGUE.get(session, "districts", build)


def measure_choices(session: DbSession) -> list[tuple[str, str]]:
    def build() -> Choices:
        stmt = select(MeasureType.code, MeasureType.name_es).where(MeasureType.active.is_(True))
        return [(code, name) for code, name in session.execute(stmt)]

    return CATALOGUE.get(session, "measures", build)


class Administrator(HasActor, Protocol):
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


def service_names(session: DbSession) -> dict[str, tuple[str, str]]:
    """Every service's Spanish and English name, inactive ones too: old referrals name them."""

    def build() -> dict[str, tuple[str, str]]:
        rows = session.execute(select(Service.code, Service.name_es, Service.name_en))
        return {code: (name_es, name_en) for code, name_es, name_en in rows}

    return CATALOGUE.get(session, "service_names", build)


def measure_names(session: DbSession) -> dict[str, tuple[str, str]]:
    """Every measure type's Spanish and English name, inactive ones too."""

    def build() -> dict[str, tuple[str, str]]:
        rows = session.execute(select(MeasureType.code, MeasureType.name_es, MeasureType.name_en))
        return {code: (name_es, name_en) for code, name_es, name_en in rows}

    return CATALOGUE.get(session, "measure_names", build)


def receiver_services(session: DbSession) -> dict[str, list[str]]:
    """The active service codes each receiver (by id, as in `receiver_choices`) gives:
    the referral form offers for a service only the institutions that give it."""

    def build() -> dict[str, list[str]]:
        stmt = (
            select(institution_services)
            .join(Service, Service.code == institution_services.c.service_code)
            .where(Service.active.is_(True))
        )
        rows = session.execute(stmt.order_by("service_code"))
        given: dict[str, list[str]] = {}
        for institution_id, code in rows:
            given.setdefault(str(institution_id), []).append(code)
        return given

    return CATALOGUE.get(session, "receiver_services", build)
